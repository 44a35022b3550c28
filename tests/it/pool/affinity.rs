//! Conversation affinity against a mock that binds state to accounts as the
//! backend does (`support/mock/conversation.rs`): another account's
//! encrypted reasoning is a 400, turn-states are per account, the prompt
//! cache is per account and session. (A conversation alternating between
//! two replicas: `replicas/affinity.rs`.)

use serde_json::{json, Value};

use crate::support::*;

/// Three (or `names`) accounts under `round_robin`, the admin API on.
fn round_robin(mock: &Mock, names: &[&str]) -> Builder {
    Gateway::builder(mock)
        .accounts(names)
        .admin(ADMIN)
        .toml("[pool]\nstrategy = \"round_robin\"")
}

/// One Codex-style turn on `/v1/responses` (not streamed): returns the status,
/// the account, the answer's output items and its usage.
async fn turn(gw: &Gateway, session: &str, input: &[Value]) -> (u16, String, Vec<Value>, Value) {
    let body = json!({"model": "gpt-5.4", "input": input, "prompt_cache_key": session,
        "include": ["reasoning.encrypted_content"], "reasoning": {"effort": "medium"}});
    let (status, h, text) = gw.post("/v1/responses", &body).await;
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let account = h
        .get("x-codex-pool-account")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let output = v["output"].as_array().cloned().unwrap_or_default();
    (status, account, output, v["usage"].clone())
}

fn user(text: &str) -> Value {
    json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
}

#[tokio::test]
async fn a_conversation_with_reasoning_stays_on_its_account_under_round_robin() {
    let mock = Mock::start().await;
    mock.conversation_mode();
    let gw = round_robin(&mock, &["a", "b", "c"]).start().await;
    let mut input = vec![user("turn 1")];
    let mut first = String::new();
    for n in 1..=4 {
        let (status, account, output, usage) = turn(&gw, "conv-1", &input).await;
        assert_eq!(status, 200, "turn {n} on {account}: {output:?}");
        if n == 1 {
            first = account.clone();
        }
        assert_eq!(account, first, "turn {n} moved");
        if n > 1 {
            let cached = usage["input_tokens_details"]["cached_tokens"]
                .as_u64()
                .unwrap();
            assert!(cached > 0, "turn {n}: the prefix is cached: {usage}");
        }
        input.extend(output);
        input.push(user(&format!("turn {}", n + 1)));
    }
    assert_eq!(mock.accounts_hit(), vec![first.clone(); 4]);
    // The activity view lists the newest first.
    let outcomes: Vec<String> = gw
        .activity()
        .await
        .iter()
        .rev()
        .map(|d| d["affinity"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(outcomes, ["new", "kept", "kept", "kept"]);
    let scrape = gw.scrape().await;
    assert_eq!(
        metric(&scrape, "codex_pool_affinity_total", &[("outcome", "kept")]),
        Some(3.0)
    );
    // A second conversation is placed by the strategy: the next account.
    let (_, other, _, _) = turn(&gw, "conv-2", &[user("hello")]).await;
    assert_ne!(other, first, "new conversations still spread");
}

#[tokio::test]
async fn a_forced_move_strips_the_other_accounts_blobs_and_succeeds() {
    let mock = Mock::start().await;
    mock.conversation_mode();
    let gw = round_robin(&mock, &["a", "b"]).start().await;
    let mut input = vec![user("turn 1")];
    let (status, first, output, _) = turn(&gw, "conv-m", &input).await;
    assert_eq!(status, 200);
    input.extend(output);
    input.push(user("turn 2"));
    // Its account hits its usage limit: the conversation must move.
    let resets = now() + 3600;
    mock.script(
        &first,
        Script::Status(
            429,
            json!({"error": {"type": "usage_limit_reached", "resets_at": resets}}).to_string(),
            vec![],
        ),
    );
    let (status, second, _, _) = turn(&gw, "conv-m", &input).await;
    assert_eq!(status, 200, "the client gets an answer, never the 400");
    assert_ne!(second, first);
    let seen = mock.responses();
    let moved = seen.last().unwrap();
    assert_eq!(moved.account(), second);
    let items = moved.body["input"].as_array().unwrap();
    let reasoning = items.iter().find(|i| i["type"] == "reasoning").unwrap();
    assert!(reasoning.get("encrypted_content").is_none(), "{reasoning}");
    assert_eq!(
        reasoning["summary"][0]["text"], "thinking 1",
        "the summary stays"
    );
    let last = gw.activity().await.first().cloned().unwrap();
    assert!(
        last["affinity"].as_str().unwrap().starts_with("moved"),
        "{last}"
    );
    let (_, scrape) = gw.get("/metrics", &[]).await;
    assert_eq!(
        metric(
            &scrape,
            "codex_pool_affinity_blobs_stripped_total",
            &[("account", &second)]
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn a_blob_the_gateway_never_saw_is_retried_once_without_blobs() {
    let mock = Mock::start().await;
    mock.conversation_mode();
    let gw = Gateway::builder(&mock).account("b").start().await;
    // Reasoning from an account this gateway does not know (a restart).
    let input = vec![
        user("turn 1"),
        json!({"type": "reasoning", "summary": [{"type": "summary_text", "text": "old"}],
            "encrypted_content": "enc:elsewhere:7"}),
        user("turn 2"),
    ];
    let (status, account, _, _) = turn(&gw, "conv-x", &input).await;
    assert_eq!(status, 200);
    assert_eq!(account, "b");
    let seen = mock.responses();
    assert_eq!(seen.len(), 2, "refused once, then sent without the blob");
    assert!(seen[0].body["input"]
        .to_string()
        .contains("enc:elsewhere:7"));
    let retried = &seen[1].body["input"];
    assert!(
        !retried.to_string().contains("encrypted_content"),
        "{retried}"
    );
    assert_eq!(retried[1]["summary"][0]["text"], "old", "the summary stays");
}

#[tokio::test]
async fn a_turn_state_routes_back_to_the_account_that_minted_it() {
    let mock = Mock::start().await;
    mock.conversation_mode();
    let gw = round_robin(&mock, &["a", "b", "c"]).start().await;
    let (s, h, _) = gw
        .post(
            "/v1/responses",
            &json!({"model": "gpt-5.4", "input": "one", "prompt_cache_key": "t-1"}),
        )
        .await;
    assert_eq!(s, 200);
    let minted_by = h["x-codex-pool-account"].to_str().unwrap().to_string();
    let token = h["x-codex-turn-state"].to_str().unwrap().to_string();
    assert!(token.starts_with(&format!("ts:{minted_by}:")), "{token}");
    // Another conversation id, but the same turn: the token decides.
    for _ in 0..3 {
        let (s, h, text) = gw
            .post_with(
                "/v1/responses",
                &json!({"model": "gpt-5.4", "input": "again", "prompt_cache_key": format!("t-{}", now())}),
                &[("x-codex-turn-state", &token)],
            )
            .await;
        assert_eq!(s, 200, "{text}");
        assert_eq!(h["x-codex-pool-account"], minted_by.as_str());
    }
    let seen = mock.responses();
    assert!(seen[1..]
        .iter()
        .all(|r| r.header("x-codex-turn-state") == Some(token.as_str())));
    // Its account is out: the turn moves, without the token (never another
    // account's turn-state).
    mock.script(&minted_by, Script::Status(503, "down".into(), vec![]));
    let (s, h, text) = gw
        .post_with(
            "/v1/responses",
            &json!({"model": "gpt-5.4", "input": "moved", "prompt_cache_key": "t-moved"}),
            &[("x-codex-turn-state", &token)],
        )
        .await;
    assert_eq!(s, 200, "{text}");
    assert_ne!(h["x-codex-pool-account"], minted_by.as_str());
    let last = mock.responses().last().cloned().unwrap();
    assert_eq!(last.header("x-codex-turn-state"), None);
}

#[tokio::test]
async fn plain_chat_conversations_without_ids_stay_put() {
    let mock = Mock::start().await;
    let gw = round_robin(&mock, &["a", "b", "c"]).start().await;
    let mut homes = Vec::new();
    for c in 0..3 {
        let mut messages = vec![
            json!({"role": "system", "content": "You are terse."}),
            json!({"role": "user", "content": format!("conversation {c}")}),
        ];
        let mut home = None;
        for t in 0..3 {
            let (s, h, text) = gw
                .post(
                    "/v1/chat/completions",
                    &json!({"model": "gpt-5.4", "messages": messages}),
                )
                .await;
            assert_eq!(s, 200, "{text}");
            let account = h["x-codex-pool-account"].to_str().unwrap().to_string();
            assert_eq!(
                home.get_or_insert(account.clone()),
                &account,
                "conversation {c} turn {t}"
            );
            messages.push(json!({"role": "assistant", "content": "ok"}));
            messages.push(json!({"role": "user", "content": format!("more {t}")}));
        }
        homes.push(home.unwrap());
    }
    homes.sort();
    homes.dedup();
    assert_eq!(homes.len(), 3, "new conversations spread over the accounts");
}

#[tokio::test]
async fn primary_first_keeps_conversations_on_the_primary_and_returns_when_it_recovers() {
    let mock = Mock::start().await;
    mock.conversation_mode();
    let gw = Gateway::builder(&mock)
        .accounts(&["a", "b"])
        .toml("[pool]\nbackoff_base = \"300ms\"\noutlier_failures = 1")
        .start()
        .await;
    let mut input = vec![user("turn 1")];
    let (_, account, output, _) = turn(&gw, "p-1", &input).await;
    assert_eq!(account, "a");
    input.extend(output);
    input.push(user("turn 2"));
    mock.script("a", Script::Status(500, "down".into(), vec![]));
    let (status, account, output, _) = turn(&gw, "p-1", &input).await;
    assert_eq!(
        (status, account.as_str()),
        (200, "b"),
        "a is down: b, without a's blob"
    );
    input.extend(output);
    input.push(user("turn 3"));
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let (status, account, _, _) = turn(&gw, "p-1", &input).await;
    assert_eq!(
        (status, account.as_str()),
        (200, "a"),
        "the primary is spent first again"
    );
}

/// Replays `conversations` × `turns` Codex-style conversations under
/// round_robin over three accounts; after `limit_after` turns one account
/// hits its usage limit. Returns, per conversation, the accounts its turns
/// were served by, and the cached input tokens as a share of the ideal
/// (every conversation's prefix cached on every later turn).
async fn replay(
    conversations: usize,
    turns: usize,
    limit_after: Option<usize>,
) -> (Vec<Vec<String>>, f64) {
    let mock = Mock::start().await;
    mock.conversation_mode();
    let gw = round_robin(&mock, &["a", "b", "c"]).start().await;
    let mut inputs: Vec<Vec<Value>> = (0..conversations)
        .map(|c| {
            vec![user(&format!(
                "conversation {c}: {}",
                "context ".repeat(50)
            ))]
        })
        .collect();
    let mut served: Vec<Vec<String>> = vec![Vec::new(); conversations];
    let (mut cached, mut ideal) = (0u64, 0u64);
    for t in 0..turns {
        if limit_after == Some(t) {
            let victim = served[0].last().cloned().unwrap();
            let resets = now() + 3600;
            mock.script(
                &victim,
                Script::Status(
                    429,
                    json!({"error": {"type": "usage_limit_reached", "resets_at": resets}})
                        .to_string(),
                    vec![],
                ),
            );
        }
        for c in 0..conversations {
            let (status, account, output, usage) =
                turn(&gw, &format!("replay-{c}"), &inputs[c]).await;
            assert_eq!(status, 200, "conversation {c} turn {t}");
            if t > 0 {
                cached += usage["input_tokens_details"]["cached_tokens"]
                    .as_u64()
                    .unwrap();
            }
            served[c].push(account);
            inputs[c].extend(output);
            inputs[c].push(user(&format!("turn {}", t + 2)));
        }
    }
    // The ideal from what upstream saw: each request's input shares its
    // conversation's previous input as a prefix.
    let seen = mock.responses();
    let mut last: std::collections::HashMap<String, Vec<String>> = Default::default();
    for s in seen.iter().filter(|s| s.body["input"].is_array()) {
        let key = s.body["prompt_cache_key"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let items: Vec<String> = s.body["input"]
            .as_array()
            .unwrap()
            .iter()
            .map(Value::to_string)
            .collect();
        if let Some(prev) = last.get(&key) {
            let shared: usize = prev
                .iter()
                .zip(&items)
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a.len())
                .sum();
            ideal += (shared as u64).div_ceil(4);
        }
        last.insert(key, items);
    }
    gw.stop().await;
    (served, cached as f64 / ideal.max(1) as f64)
}

fn moves(accounts: &[String]) -> usize {
    accounts.windows(2).filter(|w| w[0] != w[1]).count()
}

/// The conversation-replay benchmark of `BENCHMARKS.md` (counts, not
/// timings: the targets are exact).
#[tokio::test]
async fn conversation_replay_keeps_every_conversation_and_its_cache_in_place() {
    let (served, share) = replay(12, 6, None).await;
    let total_moves: usize = served.iter().map(|s| moves(s)).sum();
    println!(
        "replay 12x6 round_robin/3 accounts: moves {total_moves}, cached share of ideal {:.4}",
        share
    );
    assert_eq!(total_moves, 0, "{served:?}");
    assert!(share >= 0.99, "{share}");
    let homes: std::collections::HashSet<&String> = served.iter().map(|s| &s[0]).collect();
    assert_eq!(homes.len(), 3, "conversations spread over the accounts");

    let (served, share) = replay(12, 6, Some(3)).await;
    let victim = served[0][2].clone();
    println!(
        "replay 12x6 with {victim} usage-limited after turn 3: cached share of ideal {:.4}",
        share
    );
    for (c, s) in served.iter().enumerate() {
        let expected = usize::from(s[2] == victim);
        assert_eq!(moves(s), expected, "conversation {c}: {s:?}");
    }
}
