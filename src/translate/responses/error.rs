//! A Responses stream that fails after it began: a Responses-style `error`
//! event (`{"type":"error","code","message","param"}`), as upstream itself
//! reports one.

use bytes::BytesMut;
use serde_json::json;

use crate::upstream::{sse, Failure};

/// The `error` event for `failure`.
pub fn error_frame(failure: &Failure, out: &mut BytesMut) {
    let data = json!({"type": "error", "code": failure.client_code(), "message": failure.to_string(), "param": null});
    sse::encode(Some("error"), &data.to_string(), out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_event_names_the_clients_code_and_the_message() {
        let mut out = BytesMut::new();
        error_frame(&Failure::StreamTruncated, &mut out);
        let text = std::str::from_utf8(&out).unwrap();
        let data = text
            .strip_prefix("event: error\ndata: ")
            .and_then(|t| t.strip_suffix("\n\n"))
            .unwrap_or_else(|| panic!("{text:?}"));
        let v: serde_json::Value = serde_json::from_str(data).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["code"], Failure::StreamTruncated.client_code());
        assert_eq!(v["message"], Failure::StreamTruncated.to_string());
        assert!(v["param"].is_null());
    }
}
