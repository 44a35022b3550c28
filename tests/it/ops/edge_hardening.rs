//! Limits at the edge. The real binary under a low open-file limit (`prlimit`): the soft limit is
//! raised to the hard one at start, and when the hard one is low too the
//! connection cap comes down to fit, so a client past it still gets the fast
//! 503 instead of no answer at all (EMFILE at accept).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

/// The gateway (the binary), run under `prlimit --nofile=SOFT:HARD`.
async fn start(mock: &Mock, nofile: &str) -> Gateway {
    let limit = format!("--nofile={nofile}");
    Gateway::builder(mock)
        .account("a")
        .spawn_under(&["prlimit", &limit])
        .await
}

fn soft_nofile(pid: u32) -> u64 {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    line.split_whitespace().nth(3).unwrap().parse().unwrap()
}

#[tokio::test]
async fn the_soft_open_file_limit_is_raised_to_the_hard_one() {
    let mock = Mock::start().await;
    let mut gw = start(&mock, "256:2048").await;
    // prlimit execs the binary: its pid is the gateway's.
    assert_eq!(soft_nofile(gw.process().pid()), 2048, "{}", gw.log());
    // Open mode (no keys) says whom it trusts, once.
    assert_eq!(
        gw.log().matches("no [[api_keys]]").count(),
        1,
        "{}",
        gw.log()
    );
}

#[tokio::test]
async fn past_a_low_open_file_limit_a_client_gets_the_fast_503_not_silence() {
    let mock = Mock::start().await;
    let gw = start(&mock, "256:256").await;
    assert!(
        gw.log().contains("above what the open-file limit allows"),
        "{}",
        gw.log()
    );
    // More idle connections than 256 descriptors can serve.
    let mut idle = Vec::new();
    for _ in 0..300 {
        match tokio::net::TcpStream::connect(gw.addr).await {
            Ok(s) => idle.push(s),
            Err(_) => break,
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut got)).await;
    assert!(read.is_ok(), "no answer within 5 s (accept failing?)");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("server_busy"), "{text}");
    drop(idle);
    // Freed, it serves again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = gw.get("/healthz", &[]).await;
    assert_eq!(status, 200);
    let warns = gw.log().matches("accept failed").count();
    assert!(
        warns <= 1,
        "accept failures are logged at most once per 10 s: {warns}"
    );
}

/// The keyless MCP route reads at most 4 KiB, and refuses a larger declared
/// body before reading it: outside the body budget, nobody may park 64 KiB
/// per connection there.
#[tokio::test]
async fn the_keyless_mcp_route_reads_at_most_4_kib() {
    let mock = Mock::start().await;
    let gw = Gateway::builder(&mock).account("a").start().await;
    let pad = "x".repeat(5000);
    let big = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "ping", "pad": pad});
    let (status, _, body) = gw.post("/backend-api/ps/mcp", &big).await;
    assert_eq!(status, 200);
    assert!(body.contains("-32700"), "{body}");
    let small = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});
    let (_, _, body) = gw.post("/backend-api/ps/mcp", &small).await;
    assert!(body.contains("\"result\""), "{body}");
    // Declares 60 KiB, sends one byte: answered at once, not after 10 s.
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(b"POST /backend-api/ps/mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 61440\r\n\r\n{")
        .await
        .unwrap();
    let mut got = [0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(3), s.read(&mut got))
        .await
        .expect("answered before the body arrived")
        .unwrap();
    let text = String::from_utf8_lossy(&got[..n]);
    assert!(text.contains("-32700"), "{text}");
    assert!(mock.responses().is_empty(), "nothing reaches upstream");
    gw.stop().await;
}
