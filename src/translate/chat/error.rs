//! A Chat Completions stream that fails after it began: the OpenAI error
//! envelope as one `data:` frame (the HTTP edge renders errors before the
//! first byte, `server::error`).

use bytes::{BufMut, BytesMut};

use crate::upstream::Failure;

/// An OpenAI-style error inside a stream: `data: {"error":{…}}`.
pub fn error_frame(failure: &Failure, out: &mut BytesMut) {
    let body = serde_json::json!({"error": {
        "message": failure.to_string(),
        "type": "upstream_error",
        "param": null,
        "code": failure.client_code(),
    }});
    out.put_slice(b"data: ");
    let _ = serde_json::to_writer((&mut *out).writer(), &body);
    out.put_slice(b"\n\n");
}
