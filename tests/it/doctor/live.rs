//! A gateway running on the config's listen address: the doctor finds it
//! there, scrapes its `/metrics` (and `[metrics].listen`'s), and names a
//! metrics address where nothing answers.

use super::*;

#[tokio::test]
async fn a_running_gateway_is_found_with_its_metrics() {
    let mock = Mock::start().await;
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let metrics = free_listen();
    let cfg = Gateway::builder(&mock)
        .account("a")
        .admin(ADMIN)
        .toml(format!("[metrics]\nlisten = \"{metrics}\""))
        .write(dir.path(), Some(&free_listen()));
    let served = Served::start(&cfg).await;
    let out = doctor(&cfg, home.path(), &[]).await;
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);
    assert!(
        line(&out, "listen").contains("this gateway answers on it"),
        "{}",
        out.stdout
    );
    let scraped: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("✓ metrics:"))
        .collect();
    assert_eq!(scraped.len(), 2, "{}", out.stdout);
    assert!(
        scraped[0].contains(&served.url("/metrics")) && scraped[0].contains("series)"),
        "{}",
        out.stdout
    );
    assert!(
        scraped[1].contains(&format!("http://{metrics}/metrics")),
        "{}",
        out.stdout
    );
    let mut secrets = tokens_of(&dir.path().join("a.json"));
    secrets.push(ADMIN.into());
    no_secrets(&out, &secrets);

    // metrics.listen where nothing answers (the gateway could not bind it).
    let elsewhere = config_variant(&cfg, "elsewhere.toml", &metrics, &free_listen());
    let out = doctor(&elsewhere, home.path(), &[]).await;
    assert!(!out.ok);
    assert_eq!(failures(&out), ["metrics"], "{}", out.stdout);
    let json = doctor(&elsewhere, home.path(), &["--json"]).await;
    same_checks(&out, &json);
    served.stop().await;
}
