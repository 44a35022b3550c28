//! One account's try at a request: credentials (refreshed in line only when
//! about to expire), send, then either hold back events until the first output
//! (a streaming client) or collect the whole answer (a client that did not
//! stream). A failure here is reported to the pool walk in `proxy.rs`, which
//! decides whether another account may try.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};

use super::Call;
use crate::app::{App, Snapshot};
use crate::auth::file::Credentials;
use crate::auth::refresh::{self, RefreshError};
use crate::pool::{self, Account, Setback};
use crate::translate::responses::with_base_instructions;
use crate::translate::Collector;
use crate::upstream::events::{Event, Held};
use crate::upstream::sse::{EventStream, COLLECT_DEADLINE, HOLD_BACK_BYTES};
use crate::upstream::Failure;

/// A request refreshes its account's token itself only this close to expiry.
const INLINE_REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// Events held back before the first output, at most.
const HOLD_BACK_LIMIT: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Stop at the first output event and hand over the live stream.
    Stream,
    /// Read the whole stream into a `Collector`.
    Collect,
}

pub(crate) enum Delivery {
    /// Events read (and parsed) before the first output, and the rest of the stream.
    Stream {
        buffered: VecDeque<Held>,
        events: EventStream,
    },
    Collected(Collector),
}

pub(crate) struct AttemptError {
    pub(super) failure: Failure,
    pub(super) setback: Option<Setback>,
}

impl From<Failure> for AttemptError {
    fn from(failure: Failure) -> AttemptError {
        let setback = failure.setback();
        AttemptError { failure, setback }
    }
}

/// Credentials to use now: refreshed first when the access token is about to expire.
pub(super) async fn fresh_credentials(
    app: &App,
    account: &Arc<Account>,
) -> Result<Arc<Credentials>, AttemptError> {
    let Some(creds) = account.credentials() else {
        // The file gave no login (loading it said why): that stays until one is there.
        return Err(AttemptError {
            failure: Failure::Unauthorized {
                status: 0,
                message: "no login loaded".into(),
            },
            setback: Some(Setback::NeedsRelogin {
                reason: "no login loaded".into(),
            }),
        });
    };
    // The background refresher renews tokens well before `refresh_before_expiry`
    // runs out; a request refreshes in line only when its token is about to
    // expire, so it never waits on a flight it does not need.
    if !refresh::due(&creds, INLINE_REFRESH_MARGIN) {
        return Ok(creds);
    }
    match app.refresh_login(account, &creds).await {
        Ok(c) => Ok(c),
        // A proactive refresh that failed transiently: the old token may still work.
        Err(RefreshError::Transient(_) | RefreshError::StoreUnavailable)
            if creds
                .expires_at
                .is_some_and(|e| e > crate::clock::unix_now()) =>
        {
            Ok(creds)
        }
        Err(e) => Err(refresh_failure(e)),
    }
}

fn refresh_failure(e: RefreshError) -> AttemptError {
    AttemptError {
        setback: Some(Setback::from(&e)),
        failure: Failure::Unauthorized {
            status: 401,
            message: e.to_string(),
        },
    }
}

pub(super) async fn attempt(
    app: &App,
    snap: &Snapshot,
    account: &Arc<Account>,
    call: &Call,
    mode: Mode,
) -> Result<(HeaderMap, Delivery), AttemptError> {
    let up = &snap.config.upstream;
    let mut creds = fresh_credentials(app, account).await?;
    let mut replayed = false;
    // Blobs another account produced would be refused here: not sent.
    let mut body = body_for(app, call, account, false).unwrap_or_else(|| call.body.clone());
    let mut stripped_all = false;
    let mut swapped_instructions = false;
    let forward = headers_for(app, call, account);
    let answer = loop {
        let sent = snap
            .upstream
            .responses(
                &creds,
                &call.session_id,
                &forward,
                body.clone(),
                up.first_byte_timeout,
            )
            .await;
        match sent {
            Ok(a) => break a,
            Err(f) if !swapped_instructions && f.refuses_instructions() => {
                let catalog = app.models.load();
                let rewritten = catalog
                    .base_instructions(&call.model)
                    .and_then(|base| with_base_instructions(&body, base));
                let Some(rewritten) = rewritten else {
                    return Err(f.into());
                };
                tracing::info!(request_id = %call.request_id, model = %call.model,
                    "upstream accepts only the model's own instructions; resending with them and the client's as a developer message");
                swapped_instructions = true;
                body = rewritten;
            }
            // A blob the gateway could not place (a restart, another
            // gateway): once more on this account, with none of them.
            Err(f) if !stripped_all && f.refuses_encrypted_content() => {
                let Some(clean) = body_for(app, call, account, true) else {
                    return Err(f.into());
                };
                stripped_all = true;
                body = clean;
            }
            // A 401 may be an access token upstream stopped taking: refresh and
            // replay once. A second 401 cools the account (`Setback::LoginRejected`,
            // from `Failure::setback`); it does not mark the login dead.
            Err(Failure::Unauthorized { status: 401, .. }) if !replayed => {
                replayed = true;
                creds = app
                    .refresh_login(account, &creds)
                    .await
                    .map_err(refresh_failure)?;
            }
            Err(f) => return Err(f.into()),
        }
    };
    if let Some(q) = pool::quota::from_headers(&answer.headers) {
        account.set_quota(q);
    }
    let headers = answer.headers;
    let mut events = EventStream::from_body(answer.body);
    match mode {
        Mode::Stream => {
            let mut buffered = VecDeque::new();
            let mut held_bytes = 0;
            loop {
                let Some(sse) = events.next(up.idle_timeout).await? else {
                    return Err(Failure::StreamTruncated.into());
                };
                // Parsed here, once: the relay gets the parse with the event.
                let held = Held::new(sse);
                if let Some(e) = held.event() {
                    app.affinity.observe(e, &account.name);
                    if let Some(f) = e.failure() {
                        return Err(f.into());
                    }
                }
                let output = held.event().is_some_and(|e| e.kind().is_output());
                held_bytes += held.bytes();
                buffered.push_back(held);
                // Held-back events are bounded: a stream of only unknown
                // events is relayed once there are many of them, or much.
                if output || buffered.len() >= HOLD_BACK_LIMIT || held_bytes >= HOLD_BACK_BYTES {
                    return Ok((headers, Delivery::Stream { buffered, events }));
                }
            }
        }
        Mode::Collect => {
            let mut collector = Collector::default();
            events.set_deadline(COLLECT_DEADLINE);
            loop {
                let Some(sse) = events.next(up.idle_timeout).await? else {
                    return Err(Failure::StreamTruncated.into());
                };
                // Each event parsed once, for the blob and the collector.
                let Ok(event) = Event::parse(sse.data.unwrap_or("")) else {
                    continue;
                };
                app.affinity.observe(&event, &account.name);
                if collector.push(&event)? {
                    return Ok((headers, Delivery::Collected(collector)));
                }
            }
        }
    }
}

/// The body `account` may be sent: without blobs it could not read
/// (`affinity::Affinity::body_for`; `all`: without any). `None`: the body as
/// it is. Counts what was removed.
pub(super) fn body_for(app: &App, call: &Call, account: &Account, all: bool) -> Option<Bytes> {
    let (body, removed) =
        app.affinity
            .body_for(&call.conversation, &call.body, &account.name, all)?;
    app.metrics.blobs_stripped(&account.name, removed as u64);
    tracing::info!(request_id = %call.request_id, account = %account.name, removed, every = all,
        "removed encrypted content this account cannot read");
    Some(body)
}

/// The client headers `account` is sent: the caller's turn-state token only
/// to the account that minted it (`affinity::Affinity::turn_state_for`).
fn headers_for<'c>(
    app: &App,
    call: &'c Call,
    account: &Account,
) -> std::borrow::Cow<'c, [(HeaderName, HeaderValue)]> {
    let token = app
        .affinity
        .turn_state_for(&call.conversation, &account.name)
        .and_then(|t| HeaderValue::from_str(t).ok());
    match token {
        Some(t) => {
            let mut all = call.forward.clone();
            all.push((HeaderName::from_static(super::TURN_STATE), t));
            std::borrow::Cow::Owned(all)
        }
        None => std::borrow::Cow::Borrowed(&call.forward),
    }
}
