//! A healthy setup, and each broken one the doctor must name: a bad login,
//! unreachable upstream, a skewed clock, the Codex CLI pointed elsewhere.

use super::*;

/// Every check of a healthy setup passes; the accounts' plans and windows
/// come from their own `/wham/usage`; nothing but a GET reaches the issuer.
#[tokio::test]
async fn a_healthy_setup_passes_with_each_accounts_plan_and_windows() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let b = Gateway::builder(&mock)
        .account("a")
        .account("b")
        .login(Login::default().plan("pro"))
        .key("team", |k| k)
        .admin(ADMIN);
    let cfg = b.write(dir.path(), Some(&free_listen()));
    let out = doctor(&cfg, home.path(), &[]).await;
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);
    for check in [
        "config",
        "login a",
        "login b",
        "upstream",
        "clock",
        "catalog",
        "account a",
        "account b",
        "issuer",
        "listen",
        "metrics",
        "codex cli",
    ] {
        assert!(passed(&out, check), "{check}:\n{}", out.stdout);
    }
    assert!(
        line(&out, "catalog").contains(mock::FUTURE_VERSION),
        "the version the catalog needs: {}",
        out.stdout
    );
    // The plan from the login's claims, the windows from upstream.
    let a = line(&out, "account a");
    assert!(
        a.contains("plan plus, 5h window 17% used (resets in"),
        "{a}"
    );
    assert!(a.contains("weekly 4%"), "{a}");
    assert!(
        line(&out, "account b").contains("plan pro"),
        "{}",
        out.stdout
    );
    assert!(
        line(&out, "metrics").contains("no gateway runs"),
        "{}",
        out.stdout
    );
    // Each account's probe went with its own token, as the gateway's does.
    let probes: Vec<_> = mock
        .seen()
        .into_iter()
        .filter(|s| s.path.ends_with("/wham/usage"))
        .collect();
    assert_eq!(probes.len(), 2);
    for (probe, name) in probes.iter().zip(["a", "b"]) {
        assert_eq!(probe.account(), name);
        let token = &tokens_of(&dir.path().join(format!("{name}.json")))[0];
        assert_eq!(
            probe.header("authorization"),
            Some(format!("Bearer {token}").as_str())
        );
    }
    // Without --refresh the issuer is only reached, never asked for a token.
    assert!(mock.token_calls().is_empty());
    let mut secrets = tokens_of(&dir.path().join("a.json"));
    secrets.extend(tokens_of(&dir.path().join("b.json")));
    secrets.extend([key_for("team"), ADMIN.to_string()]);
    no_secrets(&out, &secrets);
    let json = doctor(&cfg, home.path(), &["--json"]).await;
    assert!(json.ok, "{}", json.stdout);
    same_checks(&out, &json);
    no_secrets(&json, &secrets);
}

#[tokio::test]
async fn each_broken_setup_is_named_with_what_to_do() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let cfg = Gateway::builder(&mock)
        .account("a")
        .account("b")
        .write(dir.path(), Some(&free_listen()));
    let mut secrets = tokens_of(&dir.path().join("a.json"));
    secrets.extend(tokens_of(&dir.path().join("b.json")));

    // A login that cannot be read, and the Codex CLI pointed elsewhere.
    std::fs::write(
        home.path().join("config.toml"),
        "chatgpt_base_url = \"https://example.invalid/backend-api/\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("b.json"), "{").unwrap();
    let out = doctor(&cfg, home.path(), &[]).await;
    assert!(!out.ok);
    assert_eq!(failures(&out), ["login b", "codex cli"], "{}", out.stdout);
    assert!(
        line(&out, "login b").ends_with("— codex-pool login --account b"),
        "{}",
        out.stdout
    );
    assert!(
        line(&out, "codex cli").contains("points elsewhere — codex-pool codex-config"),
        "{}",
        out.stdout
    );
    no_secrets(&out, &secrets);
    let json = doctor(&cfg, home.path(), &["--json"]).await;
    assert!(!json.ok);
    same_checks(&out, &json);

    // Upstream (and the issuer) unreachable.
    config_variant(&cfg, "config.toml", &mock.url(), "http://127.0.0.1:9");
    std::fs::remove_file(home.path().join("config.toml")).unwrap();
    let out = doctor(&cfg, home.path(), &[]).await;
    assert!(!out.ok);
    assert_eq!(
        failures(&out),
        ["login b", "upstream", "issuer"],
        "{}",
        out.stdout
    );
    assert!(
        line(&out, "upstream").contains("http://127.0.0.1:9"),
        "{}",
        out.stdout
    );
    assert!(
        line(&out, "account a").contains("quota not asked: upstream did not answer"),
        "{}",
        out.stdout
    );
    no_secrets(&out, &secrets);
    let json = doctor(&cfg, home.path(), &["--json"]).await;
    same_checks(&out, &json);
}

/// The mock's `Date` ten minutes ahead: the clock is named; thirty seconds
/// is within what tokens tolerate.
#[tokio::test]
async fn a_skewed_clock_is_named() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let cfg = Gateway::builder(&mock)
        .account("a")
        .write(dir.path(), Some(&free_listen()));
    mock.skew_date(600);
    let out = doctor(&cfg, home.path(), &[]).await;
    assert!(!out.ok);
    assert_eq!(failures(&out), ["clock"], "{}", out.stdout);
    let clock = line(&out, "clock");
    assert!(
        clock.contains("behind upstream's Date") && clock.contains("— sync the clock"),
        "{clock}"
    );
    let json = doctor(&cfg, home.path(), &["--json"]).await;
    same_checks(&out, &json);

    mock.skew_date(-30);
    let out = doctor(&cfg, home.path(), &[]).await;
    assert!(out.ok, "{}", out.stdout);
    assert!(passed(&out, "clock"), "{}", out.stdout);
}

/// The mock's `Date` is an IMF-fixdate (what the doctor reads).
#[test]
fn the_mock_writes_http_dates() {
    assert_eq!(
        mock::date::imf_fixdate(1_796_680_680),
        "Mon, 07 Dec 2026 21:58:00 GMT"
    );
    assert_eq!(mock::date::imf_fixdate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
}

/// Upstream answers but refuses the logins' access tokens: reachable, and
/// each refused account named with what to run.
#[tokio::test]
async fn a_token_upstream_refuses_is_named_per_account() {
    let mock = Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let cfg = Gateway::builder(&mock)
        .account("a")
        .account("b")
        .write(dir.path(), Some(&free_listen()));
    let b_token = tokens_of(&dir.path().join("b.json"))[0].clone();
    mock.accept_only(&[&b_token]);
    let out = doctor(&cfg, home.path(), &[]).await;
    assert!(!out.ok);
    assert_eq!(failures(&out), ["upstream", "account a"], "{}", out.stdout);
    assert!(
        line(&out, "upstream").contains("answers, but refused account a's token"),
        "{}",
        out.stdout
    );
    assert!(
        line(&out, "account a")
            .ends_with("— codex-pool doctor --refresh, or codex-pool login --account a"),
        "{}",
        out.stdout
    );
    assert!(passed(&out, "account b"), "{}", out.stdout);
    let mut secrets = tokens_of(&dir.path().join("a.json"));
    secrets.push(b_token);
    no_secrets(&out, &secrets);
}
