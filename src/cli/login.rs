//! `codex-pool login` (browser PKCE or device code) and `codex-pool import`.
//!
//! The flows and the storing live in `crate::auth::login`; this file is what
//! the user reads: the prompts, the outcome, and the warning that an imported
//! login must not be used anywhere else any more.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use crate::auth::file::{AuthFile, Credentials};
use crate::auth::login::{self, Destination, LoginOptions, Prompt};
use crate::config::Config;

pub(super) async fn login(config: &Path, account: &str, device: bool) -> Result<(), String> {
    let dest = Destination::resolve(config, account)?;
    let name = account.to_string();
    let opts = LoginOptions::new(
        &dest.issuer,
        Arc::new(move |p: &Prompt| print_prompt(&name, p)),
    )?;
    let tokens = if device {
        login::device_login(&opts).await?
    } else {
        login::browser_login(&opts).await?
    };
    let file = login::auth_file(&tokens);
    let added = dest.store(&file)?;
    println!("logged in: {}", describe(&file));
    report_stored(&dest, added);
    warn_duplicate(&dest, &file);
    super::shared::store_login(&dest.config_path, account, &file).await
}

fn print_prompt(account: &str, prompt: &Prompt) {
    match prompt {
        Prompt::Browser { url, redirect_uri } => {
            println!("To log in account {account:?}, open this address in a browser:\n\n  {url}\n");
            println!(
                "Waiting for the browser to come back to {redirect_uri} (10 minutes at most)."
            );
            println!("On a machine without a browser, add --device to log in with a code instead.");
        }
        Prompt::Device { url, code } => {
            println!("To log in account {account:?}, open {url} in a browser and enter the code\n\n  {code}\n");
            println!("Waiting for the code to be entered (15 minutes at most).");
        }
    }
}

/// `email, plan X, ChatGPT account Y` (whatever the claims tell).
fn describe(file: &AuthFile) -> String {
    let Some(tokens) = file.tokens.as_ref() else {
        return "no tokens".into();
    };
    let c = Credentials::from_tokens(tokens, file.last_refresh.as_deref());
    format!(
        "{}, plan {}, ChatGPT account {}",
        c.email.as_deref().unwrap_or("(no email)"),
        c.plan.as_deref().unwrap_or("unknown"),
        c.account_id.as_deref().unwrap_or("unknown")
    )
}

fn report_stored(dest: &Destination, added: bool) {
    println!("tokens stored in {} (mode 0600)", dest.auth_file.display());
    if added {
        println!(
            "added [[accounts]] name = {:?} to {}",
            dest.account,
            dest.config_path.display()
        );
    }
    println!("a running server picks the change up on its next config reload (or restart)");
}

/// Warns when another configured account is the same ChatGPT account: it adds no quota.
fn warn_duplicate(dest: &Destination, file: &AuthFile) {
    let Some(tokens) = file.tokens.as_ref() else {
        return;
    };
    let Some(id) = Credentials::from_tokens(tokens, None).account_id else {
        return;
    };
    let Ok(config) = Config::load(&dest.config_path) else {
        return;
    };
    for other in config.accounts.iter().filter(|a| a.name != dest.account) {
        let Ok((_, c)) = crate::auth::file::load_credentials(&other.auth_file) else {
            continue;
        };
        if c.account_id.as_deref() == Some(id.as_str()) {
            eprintln!(
                "warning: account {:?} is the same ChatGPT account ({id}); it shares its quota and adds none",
                other.name
            );
        }
    }
}

/// Returns the imported login (for the shared store, `cli::shared`).
pub(super) fn import(config: &Path, account: &str, file: &Path) -> Result<AuthFile, String> {
    let shown = file.display();
    let meta = fs::metadata(file).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let bytes = fs::read(file).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let parsed: AuthFile = serde_json::from_slice(&bytes).map_err(|e| {
        // A data error's text can quote a value; give only where it is.
        format!(
            "{shown} is not a Codex auth.json (JSON error at line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    let has_tokens = parsed.tokens.as_ref().is_some_and(|t| {
        !t.access_token.expose().is_empty() && !t.refresh_token.expose().is_empty()
    });
    if !has_tokens {
        return Err(format!(
            "{shown} holds no ChatGPT login (no tokens); log in with `codex-pool login --account {account}` instead"
        ));
    }
    let dest = Destination::resolve(config, account)?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        eprintln!(
            "note: {shown} is readable by others (mode {mode:04o}); the copy is 0600, and you may want to `chmod 600 {shown}`"
        );
    }
    let same = match (fs::canonicalize(file), fs::canonicalize(&dest.auth_file)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    let added = if same {
        dest.list()?
    } else {
        dest.store_bytes(&bytes)?
    };
    println!(
        "imported {shown} as account {account:?}: {}",
        describe(&parsed)
    );
    report_stored(&dest, added);
    warn_duplicate(&dest, &parsed);
    eprintln!();
    eprintln!(
        "warning: from now on, do not use the login in {shown} anywhere else (not in the Codex CLI, not in another gateway)."
    );
    eprintln!(
        "Refresh tokens rotate: when two programs refresh the same login, the second is refused and the account is logged out."
    );
    eprintln!(
        "For the Codex CLI, run `codex login` again so that it gets a separate login of its own."
    );
    Ok(parsed)
}
