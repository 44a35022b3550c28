//! Reading a client request: bounded body, zstd decoding, JSON content type,
//! and the headers the gateway reads (request id, session, client key).

use bytes::Bytes;
use http::{header, HeaderMap};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use super::error::{ApiError, Code};

/// Reads the whole body, at most `limit` bytes (after zstd decoding too).
pub async fn read_body(
    headers: &HeaderMap,
    body: Incoming,
    limit: usize,
) -> Result<Bytes, ApiError> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
        if !ct.starts_with("application/json") && !ct.is_empty() {
            return Err(ApiError::new(
                Code::UnsupportedMediaType,
                format!("the request body must be application/json, not {ct:?}"),
            ));
        }
    }
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(ApiError::too_large(limit))
        }
        Err(e) => {
            return Err(ApiError::new(
                Code::BodyReadError,
                format!("cannot read the request body: {e}"),
            ))
        }
    };
    match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("").trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") | Some("identity") => Ok(bytes),
        Some("zstd") => decode_zstd(&bytes, limit),
        Some(other) => Err(ApiError::new(
            Code::UnsupportedContentEncoding,
            format!("content-encoding {other:?} is not supported; send identity or zstd"),
        )),
    }
}

/// Decodes a zstd body without letting it expand past `limit`.
pub fn decode_zstd(bytes: &[u8], limit: usize) -> Result<Bytes, ApiError> {
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

/// The client's request id, or a new one.
pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// The client's conversation id: new and old session header spellings.
pub fn session_hint(headers: &HeaderMap) -> Option<&str> {
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
pub fn client_key(headers: &HeaderMap) -> Option<&str> {
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
    use super::*;

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
