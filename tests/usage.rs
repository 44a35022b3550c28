//! Usage that is kept: exact hourly rollups after a known mix of requests,
//! through a restart, with and without `[store]` (two replicas adding to one
//! total); budgets that survive a restart; the CSV; `/v1/usage` telling a key
//! only its own; the access log's lines; a failed write counted and retried.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;
#[path = "common/redis.rs"]
mod redis_server;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::*;
use serde_json::Value;

const ADMIN: &str = "adm-usage-test-token-0123456789";
const ALICE: &str = "sk-alice-usage-0123456789";
const BOB: &str = "sk-bob-usage-0123456789";

fn keys(extra: &str) -> String {
    format!(
        "[admin]\ntoken = \"{ADMIN}\"\n[log]\naccess = \"access.log\"\n{extra}\n\
         [[api_keys]]\nname = \"alice\"\nkey = \"{ALICE}\"\n\
         [[api_keys]]\nname = \"bob\"\nkey = \"{BOB}\"\n"
    )
}

async fn ask(gw: &Gateway, key: &str, text: &str) -> u16 {
    let auth = format!("Bearer {key}");
    let (s, _, _) = gw
        .post_with(
            "/v1/chat/completions",
            &chat("gpt-5.4", text),
            &[("authorization", &auth)],
        )
        .await;
    s
}

async fn admin_usage(gw: &Gateway, query: &str) -> Value {
    let auth = format!("Bearer {ADMIN}");
    let (s, text) = gw
        .get(
            &format!("/admin/usage?{query}"),
            &[("authorization", &auth)],
        )
        .await;
    assert_eq!(s, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// The row of `/admin/usage?by=key` for `key`, once it has `requests`.
async fn key_row(gw: &Gateway, key: &str, requests: u64) -> Value {
    for _ in 0..100 {
        let v = admin_usage(gw, "by=key").await;
        let row = v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == key)
            .cloned();
        if let Some(r) = row.filter(|r| r["requests"] == requests) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "no row of {key} with {requests} requests: {}",
        admin_usage(gw, "by=key").await
    );
}

#[tokio::test]
async fn rollups_are_exact_and_survive_a_restart() {
    let mock = Mock::start().await;
    let text = config_text(&mock, &["a"], &keys(""));
    let dir = tempfile::tempdir().unwrap();
    write_auth(
        &dir.path().join("a.json"),
        "a",
        &access_token("a", 3600),
        "rt-a",
    );
    let gw = Gateway::start_with(&mock, dir, &text).await;
    for _ in 0..3 {
        assert_eq!(ask(&gw, ALICE, "the secret prompt").await, 200);
    }
    mock.script(
        "a",
        Script::Status(
            400,
            r#"{"error":{"message":"bad","type":"invalid_request_error"}}"#.into(),
            vec![],
        ),
    );
    assert_ne!(ask(&gw, BOB, "hi").await, 200);
    assert_eq!(ask(&gw, BOB, "hi").await, 200);
    assert_eq!(mock.responses().len(), 5, "every request reached upstream");

    let alice = key_row(&gw, "alice", 3).await;
    // The mock reports 21 input (5 cached), 9 output (3 reasoning) per answer.
    assert_eq!(
        (
            &alice["input"],
            &alice["cached"],
            &alice["output"],
            &alice["reasoning"],
            &alice["errors"]
        ),
        (
            &Value::from(63),
            &Value::from(15),
            &Value::from(27),
            &Value::from(9),
            &Value::from(0)
        )
    );
    let bob = key_row(&gw, "bob", 2).await;
    assert_eq!(bob["errors"], 1);
    assert_eq!(bob["errors_by_code"].as_object().unwrap().len(), 1, "{bob}");
    assert_eq!(bob["input"], 21);

    // CSV, by key and model.
    let auth = format!("Bearer {ADMIN}");
    let resp = gw
        .client()
        .get(gw.url("/admin/usage?by=key,model"))
        .header("authorization", &auth)
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
    let dir = gw.stop_keeping_dir().await;
    let log = std::fs::read_to_string(dir.path().join("access.log")).unwrap();
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
        (&first["key"], &first["account"], &first["model"]),
        (
            &Value::from("alice"),
            &Value::from("a"),
            &Value::from("gpt-5.4")
        )
    );
    assert_eq!(
        (
            &first["input_tokens"],
            &first["output_tokens"],
            &first["status"]
        ),
        (&Value::from(21), &Value::from(9), &Value::from(200))
    );
    for secret in [ALICE, BOB, ADMIN, "the secret prompt", "Bearer", "rt-a"] {
        assert!(!log.contains(secret), "the access log carries {secret:?}");
    }

    // A restart keeps every count, and adds to them.
    let gw = Gateway::start_with(&mock, dir, &text).await;
    key_row(&gw, "alice", 3).await;
    assert_eq!(ask(&gw, ALICE, "hi").await, 200);
    let alice = key_row(&gw, "alice", 4).await;
    assert_eq!(alice["input"], 84);
    let by_day = admin_usage(&gw, "by=day&since=1d").await;
    assert_eq!(by_day["rows"][0]["requests"], 6, "{by_day}");
    gw.stop().await;
}

#[tokio::test]
async fn a_token_budget_survives_a_restart() {
    let mock = Mock::start().await;
    let text = config_text(&mock, &["a"], &keys("")).replace(
        "name = \"alice\"\n",
        "name = \"alice\"\ntokens_per_hour = 50\n",
    );
    let dir = tempfile::tempdir().unwrap();
    write_auth(
        &dir.path().join("a.json"),
        "a",
        &access_token("a", 3600),
        "rt-a",
    );
    let gw = Gateway::start_with(&mock, dir, &text).await;
    assert_eq!(ask(&gw, ALICE, "hi").await, 200);
    assert_eq!(ask(&gw, ALICE, "hi").await, 200);
    assert_eq!(ask(&gw, ALICE, "hi").await, 429, "60 tokens spent of 50");
    key_row(&gw, "alice", 3).await;
    let dir = gw.stop_keeping_dir().await;
    let gw = Gateway::start_with(&mock, dir, &text).await;
    assert_eq!(
        ask(&gw, ALICE, "hi").await,
        429,
        "the restart must not reset the budget"
    );
    assert_eq!(ask(&gw, BOB, "hi").await, 200);
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
    let text = config_text(&mock, &["a"], &keys("")).replace(
        "name = \"alice\"\n",
        "name = \"alice\"\ntokens_per_day = 1000\n",
    );
    let dir = tempfile::tempdir().unwrap();
    write_auth(
        &dir.path().join("a.json"),
        "a",
        &access_token("a", 3600),
        "rt-a",
    );
    let gw = Gateway::start_with(&mock, dir, &text).await;
    assert_eq!(ask(&gw, ALICE, "hi").await, 200);
    assert_eq!(ask(&gw, BOB, "hi").await, 200);
    assert_eq!(ask(&gw, BOB, "hi").await, 200);
    key_row(&gw, "bob", 2).await;
    let (s, body) = gw
        .get(
            "/v1/usage",
            &[("authorization", &format!("Bearer {ALICE}"))],
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["key"], "alice");
    assert_eq!(v["limits"]["tokens_per_day"], 1000);
    assert_eq!(v["spent"]["day"]["tokens"], 30);
    assert_eq!(v["left"]["tokens_today"], 970);
    assert!(v["left"]["tokens_this_hour"].is_null());
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{v}");
    assert_eq!(rows[0]["requests"], 1);
    for other in ["bob", "\"a\"", "account"] {
        assert!(!body.contains(other), "{other} in {body}");
    }
    let (s, _) = gw.get("/v1/usage", &[]).await;
    assert_eq!(s, 401);
    let (s, _) = gw
        .get(
            "/admin/usage",
            &[("authorization", &format!("Bearer {ALICE}"))],
        )
        .await;
    assert_eq!(s, 401, "a client key is not the admin token");
    gw.stop().await;
}

#[tokio::test]
async fn a_failed_write_is_counted_and_retried_never_a_failed_request() {
    let mock = Mock::start().await;
    let text = config_text(&mock, &["a"], &keys("[usage]\npath = \"later/usage.db\""));
    let dir = tempfile::tempdir().unwrap();
    write_auth(
        &dir.path().join("a.json"),
        "a",
        &access_token("a", 3600),
        "rt-a",
    );
    let gw = Gateway::start_with(&mock, dir, &text).await;
    assert_eq!(
        ask(&gw, ALICE, "hi").await,
        200,
        "a usage store that cannot be written fails no request"
    );
    let mut failed = 0.0;
    for _ in 0..100 {
        let scrape = gw.app.metrics.scrape(&[]);
        let scrape = String::from_utf8(scrape).unwrap();
        failed = metric(
            &scrape,
            "codex_pool_usage_write_failures_total",
            &[("sink", "sqlite")],
        )
        .unwrap_or(0.0);
        if failed > 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(failed > 0.0, "the failed write is counted");
    std::fs::create_dir(gw.dir.path().join("later")).unwrap();
    assert_eq!(ask(&gw, ALICE, "hi").await, 200);
    key_row(&gw, "alice", 2).await;
    gw.stop().await;
}

/// A store key file (mode 0600) in `dir`.
fn store_key(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("store.key");
    std::fs::write(&p, codex_pool::store::StoreKey::generate().unwrap()).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

#[tokio::test]
async fn two_replicas_add_to_one_total_in_the_store() {
    let redis = redis_server::Redis::start().await;
    let mock = Mock::start().await;
    let keydir = tempfile::tempdir().unwrap();
    let key = store_key(keydir.path());
    let store = format!(
        "[store]\nredis_url = \"{}\"\nencryption_key_file = \"{}\"",
        redis.url(),
        key.display()
    );
    let text = config_text(&mock, &["a"], &keys(&store));
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        write_auth(
            &dir.path().join("a.json"),
            "a",
            &access_token("a", 3600),
            "rt-a",
        );
        replicas.push(Gateway::start_with(&mock, dir, &text).await);
    }
    assert_eq!(ask(&replicas[0], ALICE, "hi").await, 200);
    assert_eq!(ask(&replicas[1], ALICE, "hi").await, 200);
    assert_eq!(ask(&replicas[1], BOB, "hi").await, 200);
    for gw in &replicas {
        let alice = key_row(gw, "alice", 2).await;
        assert_eq!(
            (&alice["input"], &alice["output"]),
            (&Value::from(42), &Value::from(18))
        );
        key_row(gw, "bob", 1).await;
    }
    // Each replica's own file holds its own share.
    let dir = replicas.remove(0).stop_keeping_dir().await;
    let db = codex_pool::usage::db::Db::open_read(&dir.path().join("usage.db")).unwrap();
    let rows = db.rows(0, i64::MAX, None).unwrap();
    assert_eq!(rows.iter().map(|r| r.1.requests).sum::<u64>(), 1);
    replicas.remove(0).stop().await;
}

#[tokio::test]
async fn the_cli_reads_the_usage_file() {
    let mock = Mock::start().await;
    let text = config_text(&mock, &["a"], &keys(""));
    let dir = tempfile::tempdir().unwrap();
    write_auth(&dir.path().join("a.json"), "a", &access_token("a", 3600), "rt-a");
    let gw = Gateway::start_with(&mock, dir, &text).await;
    assert_eq!(ask(&gw, ALICE, "hi").await, 200);
    assert_eq!(ask(&gw, BOB, "hi").await, 200);
    key_row(&gw, "bob", 1).await;
    let config = gw.config_path.clone();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(binary())
            .arg("usage")
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    // Beside the running gateway, then without it.
    let csv = run(&["--by", "key", "--csv"]);
    assert!(csv.contains("alice,1,0,21,5,9,3,0") && csv.contains("bob,1,0,21,5,9,3,0"), "{csv}");
    let dir = gw.stop_keeping_dir().await;
    let table = run(&["--by", "model", "--since", "1d"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("model") && lines[1].starts_with("gpt-5.4"), "{table}");
    assert!(lines[1].split_whitespace().nth(1) == Some("2"), "{table}");
    drop(dir);
}
