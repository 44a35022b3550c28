//! The config's refusals of values that are valid TOML but harmful: durations
//! outside their range, `http://` off loopback, weak admin tokens, two
//! accounts on one auth file; and the warnings it gives instead of refusing.

use super::*;
use std::os::unix::fs::PermissionsExt;

fn problems(text: &str) -> Vec<Problem> {
    parse(text).err().map(|e| e.problems).unwrap_or_default()
}

fn message_of<'a>(problems: &'a [Problem], key: &str) -> &'a str {
    problems
        .iter()
        .find(|p| p.key == key)
        .map(|p| p.message.as_str())
        .unwrap_or_else(|| panic!("no problem for {key} in {problems:?}"))
}

#[test]
fn every_duration_out_of_range_is_reported_at_once_with_its_bound() {
    let found = problems(
        r#"
[server]
header_read_timeout = "0s"
shutdown_grace = "400d"
[upstream]
connect_timeout = "50ms"
idle_timeout = "0s"
first_byte_timeout = "0s"
models_refresh = "0s"
[pool]
backoff_base = "0s"
refresh_before_expiry = "1d"
usage_probe_interval = "500ms"
"#,
    );
    for (key, bound) in [
        ("server.header_read_timeout", "minimum of 100ms"),
        ("server.shutdown_grace", "more than a year"),
        ("upstream.connect_timeout", "minimum of 100ms"),
        ("upstream.idle_timeout", "minimum of 100ms"),
        ("upstream.first_byte_timeout", "minimum of 100ms"),
        ("upstream.models_refresh", "minimum of 1m"),
        ("pool.backoff_base", "minimum of 100ms"),
        ("pool.refresh_before_expiry", "maximum of 30m"),
        ("pool.usage_probe_interval", "minimum of 1s"),
    ] {
        let m = message_of(&found, key);
        assert!(m.contains(bound), "{key}: {m}");
    }
    let m = message_of(&found, "upstream.models_refresh");
    assert!(
        m.starts_with("0s is less than") && m.contains("/models"),
        "{m}"
    );
    let short = problems("[pool]\nrefresh_before_expiry = \"10s\"\n");
    assert!(message_of(&short, "pool.refresh_before_expiry").contains("minimum of 1m"));
    let upside_down = problems("[pool]\nbackoff_base = \"10s\"\nbackoff_max = \"5s\"\n");
    assert!(message_of(&upside_down, "pool.backoff_max").contains("pool.backoff_base"));
}

#[test]
fn the_short_durations_tests_and_operators_use_are_allowed() {
    let cfg = parse(
        r#"
[server]
header_read_timeout = "300ms"
shutdown_grace = "0s"
[upstream]
connect_timeout = "200ms"
idle_timeout = "400ms"
first_byte_timeout = "300ms"
models_refresh = "1m"
[pool]
backoff_base = "300ms"
backoff_max = "2s"
refresh_before_expiry = "30m"
usage_probe_interval = "0s"
"#,
    )
    .map_err(|e| e.to_string())
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        cfg.server.shutdown_grace,
        Duration::ZERO,
        "0s grace: cancel at once"
    );
    assert_eq!(
        cfg.pool.usage_probe_interval, None,
        "0s turns the probe off"
    );
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
}

#[test]
fn a_chatty_usage_probe_is_allowed_with_a_warning() {
    let cfg = parse("[pool]\nusage_probe_interval = \"2s\"\n")
        .map_err(|e| e.to_string())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.pool.usage_probe_interval, Some(Duration::from_secs(2)));
    assert_eq!(cfg.warnings.len(), 1);
    assert_eq!(cfg.warnings[0].key, "pool.usage_probe_interval");
    let quiet = parse("[pool]\nusage_probe_interval = \"5m\"\n").ok();
    assert!(quiet.is_some_and(|c| c.warnings.is_empty()));
}

#[test]
fn plain_http_is_only_for_loopback_hosts() {
    for ok in [
        "http://127.0.0.1:9000/backend-api/codex",
        "http://127.8.9.10",
        "http://localhost:8080",
        "http://LOCALHOST",
        "http://[::1]:9000",
        "https://example.com/codex",
    ] {
        let text = format!("[upstream]\nbase_url = \"{ok}\"\nissuer = \"{ok}\"\n");
        assert!(parse(&text).is_ok(), "{ok} refused: {:?}", problems(&text));
    }
    for bad in [
        "http://example.com/codex",
        "http://10.0.0.5:8080",
        "http://[::ffff:127.0.0.1]",
        "http://localhost.example.com",
    ] {
        let text = format!("[upstream]\nbase_url = \"{bad}\"\nissuer = \"{bad}\"\n");
        let found = problems(&text);
        for key in ["upstream.base_url", "upstream.issuer"] {
            assert!(message_of(&found, key).contains("in clear"), "{bad}");
        }
    }
}

#[test]
fn the_admin_token_can_be_given_as_its_digest() {
    let digest: [u8; 32] = Sha256::digest(b"a-long-admin-token").into();
    let text = format!("[admin]\ntoken_sha256 = \"{}\"\n", hex::encode(digest));
    let cfg = parse(&text).ok();
    let admin = cfg.and_then(|c| c.admin_token);
    assert_eq!(admin.as_ref().map(|a| a.sha256), Some(digest));
    assert!(admin.is_some_and(|a| a.clear.is_none()));

    let cfg = parse("[admin]\ntoken = \"a-long-admin-token\"\n").ok();
    let admin = cfg.and_then(|c| c.admin_token);
    assert_eq!(admin.as_ref().map(|a| a.sha256), Some(digest));

    let both = problems(&format!("{text}token = \"a-long-admin-token\"\n"));
    assert!(message_of(&both, "admin").contains("not both"));
    let bad = problems("[admin]\ntoken_sha256 = \"abc\"\n");
    assert!(message_of(&bad, "admin.token_sha256").contains("64 hex"));
}

#[test]
fn a_weak_admin_token_is_refused_off_loopback_only() {
    let exposed = "[server]\nlisten = \"0.0.0.0:8787\"\n[[api_keys]]\nname = \"k\"\nkey_sha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\n";
    for weak in ["change-me", "fifteen-chars-x"] {
        let found = problems(&format!("{exposed}[admin]\ntoken = \"{weak}\"\n"));
        let m = message_of(&found, "admin.token");
        assert!(m.contains("too weak") && m.contains("16 characters"), "{m}");
        assert!(!m.contains(weak), "the token is not echoed: {m}");
    }
    assert!(parse(&format!(
        "{exposed}[admin]\ntoken = \"a-strong-admin-token\"\n"
    ))
    .is_ok());
    assert!(
        parse("[admin]\ntoken = \"change-me\"\n").is_ok(),
        "loopback"
    );
}

#[test]
fn two_accounts_on_one_auth_file_are_refused() {
    let found = problems(
        "[[accounts]]\nname = \"a\"\nauth_file = \"a.json\"\n[[accounts]]\nname = \"b\"\nauth_file = \"b.json\"\n[[accounts]]\nname = \"c\"\nauth_file = \"./a.json\"\n[[accounts]]\nname = \"d\"\nauth_file = \"/etc/codex-pool/b.json\"\n",
    );
    assert!(message_of(&found, "accounts[2].auth_file").contains("accounts[0]"));
    assert!(message_of(&found, "accounts[3].auth_file").contains("accounts[1]"));
    assert_eq!(found.len(), 2, "{found:?}");
}

fn load_with_mode(text: &str, mode: u32) -> Config {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("{e}"));
    Config::load(&path)
        .map_err(|e| e.to_string())
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn secrets_in_a_file_others_can_read_draw_a_warning() {
    let secrets =
        "[admin]\ntoken = \"a-long-admin-token\"\n[[api_keys]]\nname = \"k\"\nkey = \"sk-plain\"\n";
    let cfg = load_with_mode(secrets, 0o644);
    assert_eq!(cfg.warnings.len(), 1, "{:?}", cfg.warnings);
    let m = &cfg.warnings[0].message;
    assert!(
        m.contains("admin.token") && m.contains("api_keys[0].key"),
        "{m}"
    );
    assert!(m.contains("644") && m.contains("chmod 600"), "{m}");
    assert!(
        !m.contains("sk-plain") && !m.contains("a-long-admin-token"),
        "{m}"
    );
    assert!(load_with_mode(secrets, 0o600).warnings.is_empty());
    let hashed = "[[api_keys]]\nname = \"k\"\nkey_sha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\n";
    assert!(
        load_with_mode(hashed, 0o644).warnings.is_empty(),
        "no secret in it"
    );
}

#[test]
fn worker_threads_is_one_per_core_unless_set_and_refuses_zero_or_too_many() {
    let unset = parse("").unwrap();
    assert_eq!(unset.server.worker_threads, None);
    let one = parse("[server]\nworker_threads = 1\n").unwrap();
    assert_eq!(one.server.worker_threads, Some(1));
    let zero = problems("[server]\nworker_threads = 0\n");
    assert_eq!(
        message_of(&zero, "server.worker_threads"),
        "must be greater than 0"
    );
    let many = problems("[server]\nworker_threads = 5000\n");
    assert_eq!(
        message_of(&many, "server.worker_threads"),
        "5000 is more than 1024"
    );
}
