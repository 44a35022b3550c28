//! `POST /v1/images/generations` and `POST /v1/images/edits`: each image is
//! one backend call with the `image_generation` tool forced
//! (`translate::images`). `n` images are `n` pool walks (`proxy::serve`) run
//! together, answered together or failed together; a stream (one image) goes
//! through `dispatch` and the relay like every other route.

mod form;

use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::join_all;
use http::Response;

use super::body::{self, proxied_headers, Body};
use super::ctx::Ctx;
use super::dispatch::dispatch;
use super::error::{ApiError, Code};
use crate::proxy::{self, Call, Delivery, Mode, Served};
use crate::translate::images::answer::{self, Made};
use crate::translate::images::stream::ImageStream;
use crate::translate::images::{ImageRequest, InputImage, Kind};
use crate::translate::Upstream;
use crate::upstream::events::Usage;
use crate::upstream::Failure;

/// One Images API request and its input images.
struct Job {
    request: ImageRequest,
    kind: Kind,
    images: Vec<InputImage>,
    mask: Option<InputImage>,
}

pub(super) async fn generations(ctx: Ctx, bytes: Bytes) -> Response<Body> {
    let request = match ImageRequest::from_json(&bytes) {
        Ok(r) => r,
        Err(e) => return ctx.fail(e.into()),
    };
    drop(bytes);
    let job = Job {
        request,
        kind: Kind::Generation,
        images: Vec::new(),
        mask: None,
    };
    serve(ctx, job).await
}

pub(super) async fn edits(ctx: Ctx, bytes: Bytes) -> Response<Body> {
    let form = match form::read(&ctx.headers, bytes).await {
        Ok(f) => f,
        Err(e) => return ctx.fail(e),
    };
    let request = match ImageRequest::from_fields(&form.fields, Kind::Edit) {
        Ok(r) => r,
        Err(e) => return ctx.fail(e.into()),
    };
    if form.images.is_empty() {
        let e = ApiError::new(
            Code::InvalidRequest,
            "an edit needs at least one 'image' part (a PNG, JPEG or WebP file)",
        )
        .with_param("image");
        return ctx.fail(e);
    }
    let job = Job {
        request,
        kind: Kind::Edit,
        images: form.images,
        mask: form.mask,
    };
    serve(ctx, job).await
}

/// The key's limits on the model the client named, then the calls.
async fn serve(mut ctx: Ctx, job: Job) -> Response<Body> {
    // Aliases apply to the name the client gave; the allow-list checks what
    // it resolves to. Each image is one request of the key's rate.
    let resolved = ctx.resolve_model(&job.request.model);
    if let Err(e) = ctx.admit_model(&resolved.model) {
        return ctx.fail(e);
    }
    // Admission spent the first image's request.
    let more = u32::try_from(job.request.n.saturating_sub(1)).unwrap_or(u32::MAX);
    if let Err(e) = ctx.take_more(more).await {
        return ctx.fail(e);
    }
    // A name the catalog does not know (`gpt-image-1`) is served by the
    // catalog's default model; one it knows, as itself (its effort suffix too).
    let catalog = ctx.app().models.load();
    let known = catalog.models.iter().any(|m| m.slug == resolved.model);
    let model = if known {
        resolved.model.clone()
    } else {
        catalog.default_model().to_string()
    };
    drop(catalog);
    let session = uuid::Uuid::new_v4().to_string();
    let mut up = job
        .request
        .upstream(&model, &job.images, job.mask.as_ref(), session);
    drop(job.images);
    drop(job.mask);
    if known {
        resolved.apply(&mut up);
    }
    let created = crate::clock::unix_now().max(0) as u64;
    if job.request.stream {
        let (request, kind) = (job.request, job.kind);
        // A stream is never collected: the first closure is not called.
        return dispatch(
            ctx,
            up,
            |_, _| crate::translate::Answer::default(),
            move |_| ImageStream::new(&request, kind, created),
        )
        .await;
    }
    let calls = match calls(&ctx, up, job.request.n) {
        Ok(c) => c,
        Err(e) => return ctx.fail(e),
    };
    collect(ctx, &job.request, calls, created).await
}

/// `n` calls of one body: its bytes (tens of MB with input images) are
/// shared; each call has a session of its own.
fn calls(ctx: &Ctx, up: Upstream, n: u64) -> Result<Vec<Call>, ApiError> {
    let body = serde_json::to_vec(&up.body).map_err(|e| ApiError::internal(e.to_string()))?;
    let body = Bytes::from(body);
    let mut session = Some(up.session_id);
    Ok((0..n)
        .map(|_| {
            let id = session
                .take()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            call(ctx, &up.model, id, body.clone())
        })
        .collect())
}

/// What the pool is asked for one image: no affinity (the route has no
/// conversations), no turn state, nothing forwarded.
fn call(ctx: &Ctx, model: &str, session_id: String, body: Bytes) -> Call {
    Call::alone(ctx.caller(), model.to_string(), session_id, body)
}

/// The `n` calls at once; one answer when all made their image. Every call
/// that reached upstream counts its tokens, whatever the others did.
async fn collect(
    mut ctx: Ctx,
    request: &ImageRequest,
    calls: Vec<Call>,
    created: u64,
) -> Response<Body> {
    let app = Arc::clone(ctx.app());
    let snap = Arc::clone(&ctx.snap);
    let walks = calls
        .iter()
        .map(|c| proxy::serve(&app, &snap, c, Mode::Collect));
    let served = join_all(walks).await;
    let digest = calls.first().map_or(0, Call::digest);
    let sent = calls.first().map(|c| c.model.clone()).unwrap_or_default();
    drop(calls);
    ctx.body_permit = None;
    let n = served.len();
    let mut made = Vec::with_capacity(n);
    let mut accounts: Vec<String> = Vec::new();
    let mut failed: Option<ApiError> = None;
    let mut shown_model: Option<String> = None;
    for (i, result) in served.into_iter().enumerate() {
        let image = match result {
            Ok(s) => {
                let model = s.upstream_model().unwrap_or(&sent).to_string();
                if accounts.is_empty() {
                    let pool = &ctx.snap.config.pool;
                    ctx.ledger.served(
                        Arc::clone(&s.account),
                        ctx.key.clone(),
                        &model,
                        pool,
                        digest,
                    );
                    ctx.ledger.first_byte(s.upstream_wait);
                }
                if !accounts.contains(&s.account.name) {
                    accounts.push(s.account.name.clone());
                }
                let (image, usage) = image_of(&s);
                if let Some(u) = &usage {
                    ctx.ledger.spent(&s.account, ctx.key.as_deref(), &model, u);
                }
                shown_model.get_or_insert(model);
                image.map_err(|f| {
                    let mut e = ApiError::from(&f);
                    e.account = Some(s.account.name.as_str().into());
                    e
                })
            }
            Err(e) => Err(ApiError::from(&e)),
        };
        match image {
            Ok(m) => made.push(m),
            Err(mut e) if failed.is_none() => {
                if n > 1 {
                    e.message = format!(
                        "image {} of {n} failed, so none is returned: {}",
                        i + 1,
                        e.message
                    );
                }
                failed = Some(e);
            }
            Err(_) => {}
        }
    }
    if let Some(e) = failed {
        return ctx.fail(e);
    }
    let answer = answer::render(request, &made, created);
    ctx.ledger.end(200, "ok");
    let mut resp = body::json(http::StatusCode::OK, &answer);
    let shown = shown_model.as_deref().and_then(body::value);
    proxied_headers(&mut resp, body::value(&accounts.join(", ")), shown);
    resp
}

/// The image a collected call made, and what the call spent.
fn image_of(s: &Served) -> (Result<Made, Failure>, Option<Usage>) {
    let Delivery::Collected(c) = &s.delivery else {
        let f = Failure::StreamFailed {
            code: None,
            message: "a collected call was handed over as a stream".into(),
        };
        return (Err(f), None);
    };
    let image_usage = c
        .info()
        .tool_usage
        .as_ref()
        .and_then(|t| t.image_gen.as_ref());
    (
        answer::made(c),
        answer::spent(c.info().usage.as_ref(), image_usage),
    )
}
