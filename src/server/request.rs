//! Reading a client request: bounded body, zstd decoding, JSON content type,
//! and the headers the gateway reads (request id, session, client key).

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::{header, HeaderMap, HeaderValue};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::{ApiError, Code};

/// The body a route takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Media {
    Json,
    /// `multipart/form-data` (`/v1/images/edits`).
    Form,
}

/// A form is a body a web page can post without a preflight; one that also
/// carries a client key header cannot come from a page (a page cannot set
/// it), and every SDK sends one, so a form needs one (even in open mode).
fn check_form(headers: &HeaderMap, ct: &str) -> Result<(), ApiError> {
    if !ct.starts_with("multipart/form-data") {
        let shown = if ct.is_empty() { "none" } else { bounded(ct) };
        return Err(ApiError::new(
            Code::UnsupportedMediaType,
            format!("this route takes Content-Type: multipart/form-data, not {shown:?}"),
        ));
    }
    if !headers.contains_key(header::AUTHORIZATION) && !headers.contains_key("x-api-key") {
        return Err(ApiError::new(
            Code::UnsupportedMediaType,
            "a multipart body is taken only from a client that sends an Authorization or x-api-key header (every SDK does; a web page's form cannot)",
        ));
    }
    Ok(())
}

/// Reads the whole body, at most `limit` bytes (after zstd decoding too),
/// holding its bytes against `budget`, the bytes all requests in flight may
/// hold; the returned permit gives them back when dropped.
pub(crate) async fn read_body(
    headers: &HeaderMap,
    mut body: Incoming,
    limit: usize,
    budget: &Arc<Semaphore>,
    media: Media,
) -> Result<(Bytes, OwnedSemaphorePermit), ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    if media == Media::Form {
        check_form(headers, &ct)?;
    } else if !ct.starts_with("application/json") {
        // Browsers send a cross-site body without a preflight only as a
        // "simple" request (no type, text/plain, forms): requiring JSON
        // closes that door.
        let shown = if ct.is_empty() {
            "none".to_string()
        } else {
            format!("{:?}", bounded(&ct))
        };
        return Err(ApiError::new(
            Code::UnsupportedMediaType,
            format!("the request body must be sent as Content-Type: application/json, not {shown}"),
        ));
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::too_large(limit));
    }
    // What a declared length holds before a byte arrives is small: a client
    // that declares much and sends nothing holds little.
    let upfront = declared.map_or(0, |n| n.min(UPFRONT_BYTES) as usize);
    let mut held = hold(budget, upfront)?;
    // One frame is kept as it came. From the second on, the frames are
    // copied into one buffer sized from the declared length (a kept one when
    // large: `buffers`) and dropped at once, so hyper reads the next frame
    // into the read buffer it already has. Frames kept until the end made it
    // read each one into fresh memory, and fresh memory page-faults in (about
    // 250 faults a megabyte, more than the copy costs).
    let mut first: Option<Bytes> = None;
    let mut joined: Option<Vec<u8>> = None;
    let mut len = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::new(
                Code::BodyReadError,
                format!("cannot read the request body: {e}"),
            )
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if len + data.len() > limit {
            return Err(ApiError::too_large(limit));
        }
        len += data.len();
        if let Some(buf) = joined.as_mut() {
            buf.extend_from_slice(&data);
        } else if let Some(f) = first.take() {
            let declared = declared.and_then(|n| usize::try_from(n).ok()).unwrap_or(0);
            let mut buf = crate::buffers::with_capacity(declared.max(len));
            buf.extend_from_slice(&f);
            buf.extend_from_slice(&data);
            joined = Some(buf);
        } else {
            first = Some(data);
        }
        if len > held.num_permits() {
            held.merge(hold(budget, len - held.num_permits())?);
        }
    }
    let bytes = match joined {
        Some(buf) => crate::buffers::freeze(buf),
        None => single(first.unwrap_or_default()),
    };
    match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("").trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") | Some("identity") => Ok((bytes, held)),
        Some("zstd") => {
            let decoded = decode_zstd(&bytes, limit)?;
            drop(bytes);
            if decoded.len() > held.num_permits() {
                held.merge(hold(budget, decoded.len() - held.num_permits())?);
            }
            Ok((decoded, held))
        }
        Some(other) => Err(ApiError::new(
            Code::UnsupportedContentEncoding,
            format!(
                "content-encoding {:?} is not supported; send identity or zstd",
                bounded(other)
            ),
        )),
    }
}

/// A body that came in one frame. A small one is a slice of the
/// connection's read buffer: copied, so that buffer is free for the
/// connection's next read instead of held (and a new one allocated) while
/// the request lives.
fn single(frame: Bytes) -> Bytes {
    if frame.len() <= COPIED_BYTES {
        return Bytes::copy_from_slice(&frame);
    }
    frame
}

/// A body up to this size is copied out of the connection's read buffer.
const COPIED_BYTES: usize = 16 << 10;

/// A request whose path and header values no longer borrow the connection's
/// read buffer (hyper hands them out as slices of it): one copy of those
/// bytes, so the buffer is free for the connection's next read while the
/// request lives on in its answer.
pub(crate) fn detached<B>(req: http::Request<B>) -> http::Request<B> {
    let (mut parts, body) = req.into_parts();
    let path = parts
        .uri
        .scheme()
        .is_none()
        .then(|| parts.uri.path_and_query().map(|p| p.as_str().len()))
        .flatten();
    let len = path.unwrap_or(0) + parts.headers.values().map(|v| v.len()).sum::<usize>();
    let mut copy = BytesMut::with_capacity(len);
    if let Some(pq) = path.and(parts.uri.path_and_query()) {
        copy.extend_from_slice(pq.as_str().as_bytes());
    }
    for v in parts.headers.values() {
        copy.extend_from_slice(v.as_bytes());
    }
    let mut copy = copy.freeze();
    if let Some(n) = path {
        if let Ok(uri) = http::Uri::from_maybe_shared(copy.split_to(n)) {
            parts.uri = uri;
        }
    }
    let mut headers = HeaderMap::with_capacity(parts.headers.len());
    let mut name = None;
    for (n, v) in std::mem::take(&mut parts.headers) {
        if n.is_some() {
            name = n;
        }
        let Some(name) = name.clone() else { continue };
        let sensitive = v.is_sensitive();
        let mut value = HeaderValue::from_maybe_shared(copy.split_to(v.len())).unwrap_or(v);
        value.set_sensitive(sensitive);
        headers.append(name, value);
    }
    parts.headers = headers;
    http::Request::from_parts(parts, body)
}

/// The most of a declared length held before the bytes arrive.
const UPFRONT_BYTES: u64 = 64 << 10;

/// `n` more bytes against the in-flight body budget, or a fast 503.
fn hold(budget: &Arc<Semaphore>, n: usize) -> Result<OwnedSemaphorePermit, ApiError> {
    u32::try_from(n)
        .ok()
        .and_then(|n| Arc::clone(budget).try_acquire_many_owned(n).ok())
        .ok_or_else(|| {
            ApiError::overloaded("request-body bytes in flight (server.max_inflight_body_bytes)")
        })
}

/// A client string as it may appear in an error message: at most 100 bytes.
pub(crate) fn bounded(s: &str) -> &str {
    let mut end = s.len().min(100);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Decodes a zstd body without letting it expand past `limit`.
pub(crate) fn decode_zstd(bytes: &[u8], limit: usize) -> Result<Bytes, ApiError> {
    use std::io::Read;
    let bad = |e: std::io::Error| {
        ApiError::new(
            Code::InvalidContentEncoding,
            format!("the body is not valid zstd: {e}"),
        )
    };
    let decoder = zstd::stream::read::Decoder::new(bytes).map_err(bad)?;
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(4).min(limit));
    let read = decoder
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(bad)?;
    if read > limit {
        return Err(ApiError::too_large(limit));
    }
    Ok(Bytes::from(out))
}

/// A request's ids: the client's `x-request-id` if it sent a usable one, and
/// the gateway's own, minted for every request. Logs and activity entries
/// carry both, so a client that reuses or copies another's id cannot make two
/// requests' entries indistinguishable.
#[derive(Debug, Clone)]
pub(crate) struct RequestId {
    pub id: String,
    pub client: Option<String>,
}

impl RequestId {
    pub(crate) fn of(headers: &HeaderMap, ids: &IdSource) -> RequestId {
        let client = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()))
            .map(str::to_owned);
        RequestId {
            id: ids.mint(),
            client,
        }
    }

    /// What the answer's `x-request-id` says: the client's own id back, else ours.
    pub(crate) fn answered(&self) -> &str {
        self.client.as_deref().unwrap_or(&self.id)
    }
}

/// Mints the gateway's request ids, UUID-v4-shaped: SipHash under a key the
/// OS gave once at start (`RandomState`) of a per-process counter. Unique in
/// practice (122 bits of a keyed hash of distinct inputs) and unguessable
/// without the key, as `Uuid::new_v4` was, without a `getrandom` call per
/// request.
#[derive(Default)]
pub(crate) struct IdSource {
    key: std::hash::RandomState,
    next: std::sync::atomic::AtomicU64,
}

impl IdSource {
    pub(crate) fn mint(&self) -> String {
        use std::hash::BuildHasher;
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.key.hash_one((n, 0u8)).to_le_bytes());
        bytes[8..].copy_from_slice(&self.key.hash_one((n, 1u8)).to_le_bytes());
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }
}

/// The client's conversation id: new and old session header spellings.
pub(crate) fn session_hint(headers: &HeaderMap) -> Option<&str> {
    [
        "session-id",
        "session_id",
        "conversation-id",
        "conversation_id",
        "thread-id",
    ]
    .iter()
    .find_map(|h| headers.get(*h))
    .and_then(|v| v.to_str().ok())
    .map(str::trim)
    .filter(|s| !s.is_empty() && s.len() <= 256)
}

/// `Authorization: Bearer KEY` or `x-api-key: KEY`.
pub(crate) fn client_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        let key = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
            .unwrap_or(v)
            .trim();
        if !key.is_empty() {
            return Some(key);
        }
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_detached_request_keeps_its_head_and_holds_none_of_the_read_buffer() {
        let read = Bytes::from(b"/v1/chat/completions?x=1Bearer sk-1application/jsonab".to_vec());
        let slice = |a: usize, b: usize| HeaderValue::from_maybe_shared(read.slice(a..b)).unwrap();
        let mut req = http::Request::new(());
        *req.uri_mut() = http::Uri::from_maybe_shared(read.slice(..24)).unwrap();
        let mut auth = slice(24, 35);
        auth.set_sensitive(true);
        req.headers_mut().insert(header::AUTHORIZATION, auth);
        req.headers_mut()
            .insert(header::CONTENT_TYPE, slice(35, 51));
        req.headers_mut().append("x-two", slice(51, 52));
        req.headers_mut().append("x-two", slice(52, 53));
        assert!(!read.is_unique());
        let req = super::detached(req);
        assert!(read.is_unique(), "something still borrows the read buffer");
        assert_eq!(req.uri(), "/v1/chat/completions?x=1");
        assert_eq!(req.headers()[header::AUTHORIZATION], "Bearer sk-1");
        assert!(req.headers()[header::AUTHORIZATION].is_sensitive());
        assert_eq!(req.headers()[header::CONTENT_TYPE], "application/json");
        let two: Vec<_> = req.headers().get_all("x-two").iter().collect();
        assert_eq!(two, ["a", "b"]);
        assert_eq!(req.headers().len(), 4);
    }

    #[test]
    fn a_small_body_in_one_frame_is_copied_out_of_the_read_buffer() {
        let read = Bytes::from(vec![b'x'; 100]);
        let body = super::single(read.slice(10..60));
        assert_eq!(&body[..], &read[10..60]);
        assert!(read.is_unique());
        let big = Bytes::from(vec![b'y'; super::COPIED_BYTES + 1]);
        let kept = super::single(big.clone());
        assert_eq!(kept.as_ptr(), big.as_ptr(), "a large body is not copied");
    }

    use super::*;

    #[test]
    fn minted_ids_are_distinct_uuids_and_differ_between_sources() {
        let a = IdSource::default();
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| a.mint()).collect();
        assert_eq!(ids.len(), 1000);
        for id in &ids {
            let u = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(u.get_version_num(), 4, "{id}");
        }
        // Another process (another key) does not repeat this one's ids.
        let b = IdSource::default();
        assert!(!ids.contains(&b.mint()));
    }

    #[test]
    fn zstd_round_trip_and_bomb_limit() {
        let text = br#"{"model":"m","input":"hi"}"#;
        let packed = zstd::encode_all(&text[..], 3).unwrap_or_default();
        assert_eq!(decode_zstd(&packed, 1024).ok().as_deref(), Some(&text[..]));
        let big = vec![b'a'; 100_000];
        let packed = zstd::encode_all(&big[..], 3).unwrap_or_default();
        assert!(packed.len() < 1000);
        let e = decode_zstd(&packed, 10_000).err().map(|e| e.code);
        assert_eq!(e, Some(Code::RequestTooLarge));
        let e = decode_zstd(b"not zstd", 100).err().map(|e| e.code);
        assert_eq!(e, Some(Code::InvalidContentEncoding));
    }

    #[test]
    fn keys_and_sessions_from_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-api-key",
            "k1".parse().unwrap_or(http::HeaderValue::from_static("")),
        );
        assert_eq!(client_key(&h), Some("k1"));
        h.insert(
            header::AUTHORIZATION,
            http::HeaderValue::from_static("Bearer k2"),
        );
        assert_eq!(client_key(&h), Some("k2"));
        h.insert("session_id", http::HeaderValue::from_static("old-style"));
        assert_eq!(session_hint(&h), Some("old-style"));
        h.insert("session-id", http::HeaderValue::from_static("new-style"));
        assert_eq!(session_hint(&h), Some("new-style"));
    }
}
