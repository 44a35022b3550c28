//! `codex-pool check-config`: the problems of a config file (exit 1), or its
//! summary and warnings (exit 0).
//!
//! Warnings are what the file allows but deserves a look: those the config
//! itself finds (`Config::warnings`), and those only the auth files show (a
//! login that cannot be used, two accounts logged in to one ChatGPT account).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::auth::file;
use crate::config::{self, Config};

pub(super) fn check_config(path: Option<PathBuf>) -> ExitCode {
    let Some(path) = path.or_else(config::default_path) else {
        eprintln!("codex-pool: no --config given and no home folder for the default path");
        return ExitCode::FAILURE;
    };
    let cfg = match Config::load(&path) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "{}: ok ({} account(s), {} client key(s), strategy {})",
        path.display(),
        cfg.accounts.len(),
        cfg.api_keys.len(),
        cfg.pool.strategy.as_str()
    );
    for line in warnings(&cfg, &path) {
        eprintln!("{line}");
    }
    ExitCode::SUCCESS
}

/// Every warning about a valid config, one line each.
fn warnings(cfg: &Config, path: &Path) -> Vec<String> {
    let file = path.display();
    let mut out: Vec<String> = cfg
        .warnings
        .iter()
        .map(|w| match w.key.as_str() {
            "" => format!("warning: {file}: {}", w.message),
            key => format!("warning: {file}: {key}: {}", w.message),
        })
        .collect();
    // A login that cannot be used is not a config error (log in and the
    // running gateway picks it up), but say so.
    let mut ids = Vec::new();
    for a in &cfg.accounts {
        match file::load_credentials(&a.auth_file) {
            Ok((_, c)) => ids.push((a.name.as_str(), c.account_id)),
            Err(e) => out.push(format!("warning: account {:?}: {e}", a.name)),
        }
    }
    out.extend(shared_logins(&ids));
    out
}

/// Accounts whose logins carry the same ChatGPT account id: they share one
/// subscription's quota, so the second adds none.
fn shared_logins(ids: &[(&str, Option<String>)]) -> Vec<String> {
    let mut first: HashMap<&str, &str> = HashMap::new();
    let mut out = Vec::new();
    for (name, id) in ids {
        let Some(id) = id.as_deref() else { continue };
        match first.get(id) {
            Some(other) => out.push(format!(
                "warning: accounts {other:?} and {name:?} are logged in to the same ChatGPT account ({id}); they share its quota, and the second adds none"
            )),
            None => {
                first.insert(id, name);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_logins_of_one_chatgpt_account_are_named() {
        let ids = [
            ("a", Some("acc-1".to_string())),
            ("b", Some("acc-2".to_string())),
            ("c", None),
            ("d", Some("acc-1".to_string())),
        ];
        let lines = shared_logins(&ids);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].contains("\"a\" and \"d\"") && lines[0].contains("acc-1"),
            "{lines:?}"
        );
    }
}
