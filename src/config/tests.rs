use super::*;
use sha2::{Digest, Sha256};

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("/etc/codex-pool/config.toml"))
}

fn keys(err: ConfigError) -> Vec<String> {
    err.problems.into_iter().map(|p| p.key).collect()
}

#[test]
fn the_contract_example_parses() {
    let cfg = parse(
        r#"
[server]
listen = "127.0.0.1:8787"
max_body_bytes = 33554432
[upstream]
base_url = "https://chatgpt.com/backend-api/codex/"
issuer = "https://auth.openai.com"
connect_timeout = "10s"
idle_timeout = "300s"
[pool]
strategy = "primary_first"
[[accounts]]
name = "personal"
auth_file = "accounts/personal.json"
priority = 1
[[api_keys]]
name = "alice"
key = "sk-alice-example"
strategy = "round_robin"
accounts = ["personal"]
requests_per_minute = 600
[admin]
token = "change-me"
"#,
    )
    .map_err(|e| e.to_string())
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        cfg.upstream.base_url,
        "https://chatgpt.com/backend-api/codex"
    );
    assert_eq!(cfg.upstream.idle_timeout, Duration::from_secs(300));
    assert_eq!(
        cfg.accounts[0].auth_file,
        PathBuf::from("/etc/codex-pool/accounts/personal.json")
    );
    assert_eq!(cfg.api_keys[0].strategy, Some(Strategy::RoundRobin));
    assert_eq!(cfg.api_keys[0].requests_per_minute, Some(600));
    let expected: [u8; 32] = Sha256::digest(b"sk-alice-example").into();
    assert_eq!(cfg.api_keys[0].key_sha256, expected);
    assert_eq!(
        cfg.admin_token
            .as_ref()
            .and_then(|t| t.clear.as_ref())
            .map(|t| t.expose().as_str()),
        Some("change-me")
    );
}

#[test]
fn every_problem_is_reported_with_its_key() {
    let err = parse(
        r#"
bogus = 1
[server]
listen = "nowhere"
colour = "red"
[upstream]
idle_timeout = "soon"
[pool]
strategy = "random"
[[accounts]]
name = "a"
auth_file = "a.json"
[[accounts]]
name = "a"
auth_file = "b.json"
[[api_keys]]
name = "k"
"#,
    )
    .err()
    .map(keys)
    .unwrap_or_default();
    for key in [
        "bogus",
        "server.colour",
        "upstream.idle_timeout",
        "pool.strategy",
        "accounts[1].name",
        "api_keys[0]",
    ] {
        assert!(err.iter().any(|k| k == key), "missing {key} in {err:?}");
    }
}

#[test]
fn unknown_key_inside_a_section_names_the_section() {
    let err = parse("[server]\ncolour = \"red\"\n")
        .err()
        .map(|e| e.to_string());
    let text = err.unwrap_or_default();
    assert!(text.contains("server"), "{text}");
    assert!(text.contains("colour"), "{text}");
}

#[test]
fn non_loopback_without_keys_is_refused_with_advice() {
    let err = parse("[server]\nlisten = \"0.0.0.0:8787\"\n")
        .err()
        .map(|e| e.to_string());
    let text = err.unwrap_or_default();
    assert!(text.contains("server.listen"), "{text}");
    assert!(text.contains("keys new"), "{text}");
    let ok = parse(
        "[server]\nlisten = \"0.0.0.0:8787\"\n[[api_keys]]\nname = \"a\"\nkey = \"0123456789\"\n",
    );
    assert!(ok.is_ok());
}

#[test]
fn key_scope_must_name_real_accounts() {
    let err = parse(
        "[[accounts]]\nname=\"a\"\nauth_file=\"a.json\"\n[[api_keys]]\nname=\"k\"\nkey=\"0123456789\"\naccounts=[\"b\"]\n",
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(
        err.contains("api_keys[0].accounts") && err.contains("\"b\""),
        "{err}"
    );
}

#[test]
fn priority_defaults_to_position() {
    let cfg = parse(
        "[[accounts]]\nname=\"a\"\nauth_file=\"a\"\n[[accounts]]\nname=\"b\"\nauth_file=\"/x/b\"\n",
    )
    .ok();
    let prios: Vec<i64> = cfg
        .iter()
        .flat_map(|c| c.accounts.iter().map(|a| a.priority))
        .collect();
    assert_eq!(prios, vec![1, 2]);
}

#[test]
fn solo_config_reads_the_codex_home_login() {
    let cfg = Config::solo(Path::new("/home/u/.codex"));
    assert_eq!(cfg.accounts.len(), 1);
    assert_eq!(
        cfg.accounts[0].auth_file,
        PathBuf::from("/home/u/.codex/auth.json")
    );
    assert_eq!(cfg.server.listen.to_string(), DEFAULT_LISTEN);
    assert_eq!(cfg.pool.strategy, Strategy::PrimaryFirst);
}

#[test]
fn every_strategy_name_parses_and_a_wrong_one_lists_them() {
    for s in [
        Strategy::PrimaryFirst,
        Strategy::RoundRobin,
        Strategy::PriorityOrder,
    ] {
        let cfg = parse(&format!("[pool]\nstrategy = \"{}\"\n", s.as_str()));
        assert_eq!(cfg.ok().map(|c| c.pool.strategy), Some(s));
    }
    let err = parse("[pool]\nstrategy = \"random\"\nbackoff_base = \"soon\"\n")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("pool.strategy: "), "{err}");
    for name in ["random", "primary_first", "round_robin", "priority_order"] {
        assert!(err.contains(name), "{name} missing in {err}");
    }
    assert!(
        err.contains("pool.backoff_base"),
        "the rest of [pool] is still checked: {err}"
    );
}

#[test]
fn the_folder_of_a_bare_file_name_is_the_working_folder() {
    assert_eq!(
        folder_of(Path::new("/etc/codex-pool/config.toml")),
        Path::new("/etc/codex-pool")
    );
    assert_eq!(folder_of(Path::new("config.toml")), Path::new("."));
    assert_eq!(folder_of(Path::new("/")), Path::new("."));
}

mod hardening;
mod store;
