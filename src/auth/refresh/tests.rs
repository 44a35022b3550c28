//! Unit tests of `auth/refresh`.

use super::*;

#[tokio::test]
async fn a_lock_that_cannot_be_had_fails_the_flight_without_calling_the_issuer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.json");
    let held = FileLock::acquire(&path, Duration::from_secs(1)).unwrap();
    let tokens = Arc::new(TokenSlot::default());
    let job = Job {
        http: reqwest::Client::new(),
        // Nothing listens there; the flight must not get that far.
        issuer: "http://127.0.0.1:9".into(),
        login: Login {
            tokens: Arc::clone(&tokens),
            path,
            name: "a".into(),
        },
        stale: Some(Secret::new("at".into())),
        lock_wait: Duration::from_millis(100),
        store: None,
    };
    let mut trace = Trace::default();
    let result = job.single_flight(&mut trace).await;
    assert!(
        matches!(&result, Err(RefreshError::Transient(m)) if m.contains("held by another program")),
        "{:?}",
        result.err()
    );
    assert!(!trace.called_issuer);
    assert!(matches!(
        tokens.last_error(),
        Some(RefreshError::Transient(_))
    ));
    drop(held);
}

#[test]
fn issuer_error_codes_in_every_shape() {
    assert_eq!(
        error_code(br#"{"error":{"code":"refresh_token_reused"}}"#).as_deref(),
        Some("refresh_token_reused")
    );
    assert_eq!(
        error_code(br#"{"error":"refresh_token_expired"}"#).as_deref(),
        Some("refresh_token_expired")
    );
    assert_eq!(
        error_code(br#"{"code":"refresh_token_invalidated"}"#).as_deref(),
        Some("refresh_token_invalidated")
    );
    assert_eq!(error_code(b"<html>"), None);
}

#[test]
fn due_by_exp_or_by_age() {
    let mut c = Credentials {
        access_token: Secret::new("a".into()),
        refresh_token: Secret::new("r".into()),
        account_id: None,
        email: None,
        plan: None,
        expires_at: Some(clock::unix_now() + 60),
        last_refresh: None,
        issued_at: None,
        header_cache: Default::default(),
    };
    assert!(due(&c, Duration::from_secs(300)));
    c.expires_at = Some(clock::unix_now() + 3600);
    assert!(!due(&c, Duration::from_secs(300)));
    c.expires_at = None;
    c.last_refresh = Some(SystemTime::now() - Duration::from_secs(9 * 24 * 3600));
    assert!(due(&c, Duration::from_secs(300)));
    c.last_refresh = Some(SystemTime::now());
    assert!(!due(&c, Duration::from_secs(300)));
}

#[test]
fn only_a_missing_file_or_one_without_a_login_reads_as_a_dead_login() {
    let path = std::path::PathBuf::from("a.json");
    let gone = file::FileError::Read {
        path: path.clone(),
        source: std::io::Error::from(std::io::ErrorKind::NotFound),
    };
    assert!(matches!(
        unreadable(&gone),
        RefreshError::NeedsRelogin { .. }
    ));
    let empty = file::FileError::NoTokens { path: path.clone() };
    assert!(matches!(
        unreadable(&empty),
        RefreshError::NeedsRelogin { .. }
    ));
    let half_written = file::FileError::Invalid {
        path: path.clone(),
        reason: "EOF while parsing".into(),
    };
    assert!(matches!(
        unreadable(&half_written),
        RefreshError::Transient(_)
    ));
    let too_open = file::FileError::TooOpen { path, mode: 0o644 };
    assert!(matches!(unreadable(&too_open), RefreshError::Transient(_)));
}
