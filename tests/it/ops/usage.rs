//! Usage that is kept: exact hourly rollups after a known mix of requests,
//! through a restart, with and without `[store]` (two replicas adding to one
//! total); budgets that survive a restart; the CSV; `/v1/usage` telling a key
//! only its own; the access log's lines; a failed write counted and retried;
//! a stop writing what the writer was still gathering; `codex-pool usage`
//! reading the file.

use std::path::Path;

use serde_json::Value;

use crate::support::*;

/// Accounts `a`, keys `alice` and `bob`, the admin token, and the usage file
/// and access log in `data` (outside the gateway's folder, so a second
/// gateway on the same `data` is a restart).
fn team(mock: &Mock, data: &Path) -> Builder {
    Gateway::builder(mock)
        .account("a")
        .admin(ADMIN)
        .key("alice", |k| k)
        .key("bob", |k| k)
        .toml(format!(
            "[usage]\npath = {:?}\n[log]\naccess = {:?}\n",
            data.join("usage.db").display().to_string(),
            data.join("access.log").display().to_string()
        ))
}

async fn ask(gw: &Gateway, key: &str, text: &str) -> u16 {
    gw.post_as(
        &key_for(key),
        "/v1/chat/completions",
        &chat("gpt-5.4", text),
    )
    .await
    .0
}

async fn admin_usage(gw: &Gateway, query: &str) -> Value {
    let (s, text) = gw.admin_get(&format!("/admin/usage?{query}")).await;
    assert_eq!(s, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// The row of `/admin/usage?by=key` for `key`, once it has `requests`.
async fn key_row(gw: &Gateway, key: &str, requests: u64) -> Value {
    let row = || async {
        let v = admin_usage(gw, "by=key").await;
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == key && r["requests"] == requests)
            .cloned()
    };
    eventually!(
        row().await.is_some(),
        "no row of {key} with {requests} requests: {}",
        admin_usage(gw, "by=key").await
    );
    row().await.unwrap()
}

#[tokio::test]
async fn rollups_are_exact_and_survive_a_restart() {
    let mock = Mock::start().await;
    let data = tempfile::tempdir().unwrap();
    let gw = team(&mock, data.path()).start().await;
    for _ in 0..3 {
        assert_eq!(ask(&gw, "alice", "the secret prompt").await, 200);
    }
    mock.script(
        "a",
        plain(
            400,
            r#"{"error":{"message":"bad","type":"invalid_request_error"}}"#,
        ),
    );
    assert_ne!(ask(&gw, "bob", "hi").await, 200);
    assert_eq!(ask(&gw, "bob", "hi").await, 200);
    assert_eq!(mock.responses().len(), 5, "every request reached upstream");

    let alice = key_row(&gw, "alice", 3).await;
    // The mock reports 21 input (5 cached), 9 output (3 reasoning) per answer.
    let counts = ["input", "cached", "output", "reasoning", "errors"].map(|f| alice[f].as_u64());
    assert_eq!(
        counts,
        [Some(63), Some(15), Some(27), Some(9), Some(0)],
        "{alice}"
    );
    let bob = key_row(&gw, "bob", 2).await;
    assert_eq!(bob["errors"], 1);
    assert_eq!(bob["errors_by_code"].as_object().unwrap().len(), 1, "{bob}");
    assert_eq!(bob["input"], 21);

    // CSV, by key and model.
    let resp = client()
        .get(gw.url("/admin/usage?by=key,model"))
        .bearer_auth(ADMIN)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = resp.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "key,model,requests,errors,input_tokens,cached_tokens,output_tokens,reasoning_tokens,failovers");
    assert!(lines.contains(&"alice,gpt-5.4,3,0,63,15,27,9,0"), "{csv}");

    // The access log: one line per request, names and counts, no secrets.
    gw.stop().await;
    let log = std::fs::read_to_string(data.path().join("access.log")).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5, "{log}");
    let first = &lines[0];
    for field in [
        "time",
        "request_id",
        "gateway_request_id",
        "route",
        "status",
        "latency_ms",
        "ttfb_ms",
        "affinity",
        "failovers",
    ] {
        assert!(first.get(field).is_some(), "{field} missing: {first}");
    }
    assert_eq!(
        [&first["key"], &first["account"], &first["model"]],
        ["alice", "a", "gpt-5.4"].map(Value::from).each_ref()
    );
    assert_eq!(
        [
            &first["input_tokens"],
            &first["output_tokens"],
            &first["status"]
        ],
        [21, 9, 200].map(Value::from).each_ref()
    );
    for secret in [
        key_for("alice"),
        key_for("bob"),
        ADMIN.into(),
        "the secret prompt".into(),
        "Bearer".into(),
    ] {
        assert!(!log.contains(&secret), "the access log carries {secret:?}");
    }

    // A restart keeps every count, and adds to them.
    let gw = team(&mock, data.path()).start().await;
    key_row(&gw, "alice", 3).await;
    assert_eq!(ask(&gw, "alice", "hi").await, 200);
    let alice = key_row(&gw, "alice", 4).await;
    assert_eq!(alice["input"], 84);
    let by_day = admin_usage(&gw, "by=day&since=1d").await;
    assert_eq!(by_day["rows"][0]["requests"], 6, "{by_day}");
    gw.stop().await;
}

#[tokio::test]
async fn a_stop_writes_the_batch_still_gathering() {
    let mock = Mock::start().await;
    let data = tempfile::tempdir().unwrap();
    let gw = team(&mock, data.path()).start().await;
    for _ in 0..3 {
        assert_eq!(ask(&gw, "alice", "hi").await, 200);
    }
    // At once: the writer is still gathering these rows into a batch.
    gw.stop().await;
    let log = std::fs::read_to_string(data.path().join("access.log")).unwrap();
    assert_eq!(log.lines().count(), 3, "{log}");
    let gw = team(&mock, data.path()).start().await;
    let by_key = admin_usage(&gw, "by=key").await;
    let rows = by_key["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{by_key}");
    assert_eq!(
        [&rows[0]["key"], &rows[0]["requests"]],
        [Value::from("alice"), Value::from(3)].each_ref(),
        "{by_key}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_token_budget_survives_a_restart() {
    let mock = Mock::start().await;
    let data = tempfile::tempdir().unwrap();
    let b = team(&mock, data.path()).key("carol", |k| k.tokens_per_hour(50));
    let gw = b.clone().start().await;
    assert_eq!(ask(&gw, "carol", "hi").await, 200);
    assert_eq!(ask(&gw, "carol", "hi").await, 200);
    assert_eq!(ask(&gw, "carol", "hi").await, 429, "60 tokens spent of 50");
    key_row(&gw, "carol", 3).await;
    gw.stop().await;
    let gw = b.start().await;
    assert_eq!(
        ask(&gw, "carol", "hi").await,
        429,
        "the restart must not reset the budget"
    );
    assert_eq!(ask(&gw, "bob", "hi").await, 200);
    assert_eq!(
        mock.responses().len(),
        3,
        "refused requests never reach upstream"
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_key_reads_its_own_usage_and_nothing_else() {
    let mock = Mock::start().await;
    let data = tempfile::tempdir().unwrap();
    let gw = team(&mock, data.path())
        .key("dana", |k| k.tokens_per_day(1000))
        .start()
        .await;
    let dana = &key_for("dana");
    assert_eq!(
        gw.post_as(dana, "/v1/chat/completions", &chat("gpt-5.4", "hi"))
            .await
            .0,
        200
    );
    assert_eq!(ask(&gw, "bob", "hi").await, 200);
    assert_eq!(ask(&gw, "bob", "hi").await, 200);
    key_row(&gw, "bob", 2).await;
    let (s, body) = gw
        .get("/v1/usage", &[("authorization", &format!("Bearer {dana}"))])
        .await;
    assert_eq!(s, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["key"], "dana");
    assert_eq!(v["limits"]["tokens_per_day"], 1000);
    assert_eq!(v["spent"]["day"]["tokens"], 30);
    assert_eq!(v["left"]["tokens_today"], 970);
    assert!(v["left"]["tokens_this_hour"].is_null());
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{v}");
    assert_eq!(rows[0]["requests"], 1);
    for other in ["bob", "alice", "\"a\"", "account"] {
        assert!(!body.contains(other), "{other} in {body}");
    }
    assert_eq!(gw.get("/v1/usage", &[]).await.0, 401);
    let auth = format!("Bearer {dana}");
    assert_eq!(
        gw.get("/admin/usage", &[("authorization", &auth)]).await.0,
        401,
        "a client key is not the admin token"
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_failed_write_is_counted_and_retried_never_a_failed_request() {
    let mock = Mock::start().await;
    let data = tempfile::tempdir().unwrap();
    let later = data.path().join("later");
    let gw = team(&mock, &later).start().await;
    // Neither the usage file nor the access log can be written yet.
    assert_eq!(
        ask(&gw, "alice", "hi").await,
        200,
        "a usage store that cannot be written fails no request"
    );
    let failed = |s: &str| {
        metric(
            s,
            "codex_pool_usage_write_failures_total",
            &[("sink", "sqlite")],
        )
        .unwrap_or(0.0)
            > 0.0
    };
    gw.scrape_until("a failed usage write counted", failed)
        .await;
    std::fs::create_dir(&later).unwrap();
    assert_eq!(ask(&gw, "alice", "hi").await, 200);
    key_row(&gw, "alice", 2).await;
    gw.stop().await;
}

#[tokio::test]
async fn two_replicas_add_to_one_total_in_the_store() {
    let mock = Mock::start().await;
    let b = Gateway::builder(&mock)
        .account("a")
        .admin(ADMIN)
        .key("alice", |k| k)
        .key("bob", |k| k);
    let d = Deployment::Replicas.start(b).await;
    assert_eq!(ask(d.door(0), "alice", "hi").await, 200);
    assert_eq!(ask(d.door(1), "alice", "hi").await, 200);
    assert_eq!(ask(d.door(1), "bob", "hi").await, 200);
    for gw in &d.gateways {
        let alice = key_row(gw, "alice", 2).await;
        assert_eq!(
            [&alice["input"], &alice["output"]],
            [42, 18].map(Value::from).each_ref()
        );
        key_row(gw, "bob", 1).await;
    }
    // Each replica's own file holds its own share.
    let db = codex_pool::usage::db::Db::open_read(&d.door(0).dir().join("usage.db")).unwrap();
    let rows = db.rows(0, i64::MAX, None).unwrap();
    assert_eq!(rows.iter().map(|r| r.1.requests).sum::<u64>(), 1);
}

#[tokio::test]
async fn the_cli_reads_the_usage_file() {
    let mock = Mock::start().await;
    let data = tempfile::tempdir().unwrap();
    let gw = team(&mock, data.path()).start().await;
    assert_eq!(ask(&gw, "alice", "hi").await, 200);
    assert_eq!(ask(&gw, "bob", "hi").await, 200);
    key_row(&gw, "bob", 1).await;
    let config = gw.config_path.to_str().unwrap().to_string();
    let usage = |args: &[&str]| {
        let out = crate::support::cli::run(&[&["usage", "--config", &config], args].concat());
        assert!(out.ok, "{}", out.stderr);
        out.stdout
    };
    // Beside the running gateway, then without it.
    let csv = usage(&["--by", "key", "--csv"]);
    assert!(
        csv.contains("alice,1,0,21,5,9,3,0") && csv.contains("bob,1,0,21,5,9,3,0"),
        "{csv}"
    );
    let dir = gw.stop_keeping_dir().await;
    let table = usage(&["--by", "model", "--since", "1d"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("model") && lines[1].starts_with("gpt-5.4"),
        "{table}"
    );
    assert_eq!(lines[1].split_whitespace().nth(1), Some("2"), "{table}");
    drop(dir);
}

#[tokio::test]
async fn a_killed_gateway_leaves_a_usage_file_that_opens_with_what_was_written() {
    let mock = Mock::start().await;
    let data = tempfile::tempdir().unwrap();
    let mut gw = team(&mock, data.path()).spawn().await;
    for _ in 0..5 {
        assert_eq!(ask(&gw, "alice", "hi").await, 200);
    }
    key_row(&gw, "alice", 5).await;
    // More requests in flight while the process is killed (no shutdown).
    let later: Vec<_> = (0..3)
        .map(|_| {
            let req = client()
                .post(gw.url("/v1/chat/completions"))
                .bearer_auth(key_for("alice"))
                .header("content-type", "application/json")
                .body(chat("gpt-5.4", "hi").to_string());
            tokio::spawn(async move { req.send().await.map(|r| r.status()) })
        })
        .collect();
    gw.process().signal(crate::support::process::Signal::KILL);
    for h in later {
        let _ = h.await;
    }
    let db = codex_pool::usage::db::Db::open(&data.path().join("usage.db")).unwrap();
    let rows = db.rows(0, i64::MAX, Some("alice")).unwrap();
    let n: u64 = rows.iter().map(|r| r.1.requests).sum();
    assert!((5..=8).contains(&n), "{n} requests kept");
    drop(db);
    let gw = team(&mock, data.path()).start().await;
    assert_eq!(ask(&gw, "alice", "hi").await, 200);
    key_row(&gw, "alice", n + 1).await;
}
