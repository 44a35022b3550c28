//! The command line: `serve`, `check-config`, `login`, `import`, `accounts`,
//! `keys`, `admin-token`, `codex-config`.

mod accounts;
mod check;
mod codex_config;
mod doctor;
mod login;
mod shared;
mod solo;
mod usage;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sha2::{Digest, Sha256};

use crate::config::{self, Config, LogFormat};

#[derive(Debug, Parser)]
#[command(
    name = "codex-pool",
    version,
    about = "OpenAI-compatible gateway over ChatGPT subscriptions"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve {
        /// Config file; without it, the default file or one account from $CODEX_HOME/auth.json.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Validate a config file: exit 0, or print every problem and exit 1.
    CheckConfig {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Check the whole setup (config, logins, store, upstream, clock, catalog,
    /// quota, listen address, metrics, the Codex CLI): exit 0 only when
    /// nothing is wrong.
    Doctor {
        #[arg(long)]
        config: Option<PathBuf>,
        /// One JSON object instead of lines.
        #[arg(long)]
        json: bool,
        /// Also renew each login once, through the gateway's own refresh
        /// (its lock and atomic save), to learn whether the issuer still takes it.
        #[arg(long)]
        refresh: bool,
    },
    /// Log in to ChatGPT and store the account's tokens (browser, or --device).
    Login {
        /// Config file; without it, the default file (created by the first login).
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        account: String,
        /// Device-code flow, for machines without a browser.
        #[arg(long)]
        device: bool,
    },
    /// Copy an existing Codex auth.json into the pool as an account.
    Import {
        /// Config file; without it, the default file (created if missing).
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        account: String,
        /// The auth.json to copy.
        file: PathBuf,
    },
    /// List the accounts: login, plan, expiry, state and quota.
    Accounts {
        /// Config file; without it, the default file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Print the lines that point the Codex CLI (its own ChatGPT login) at
    /// this gateway; --write puts them into $CODEX_HOME/config.toml.
    CodexConfig {
        /// Config file; without it, as `serve`.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The gateway as the Codex CLI reaches it (default: from server.listen).
        #[arg(long)]
        url: Option<String>,
        /// A second origin of the same gateway for the CLI's backend calls
        /// (default: localhost for 127.0.0.1 and back; the same for https).
        #[arg(long)]
        backend_url: Option<String>,
        /// The team layout (a provider block sending a client key) even
        /// without [[api_keys]] in the config.
        #[arg(long)]
        team: bool,
        /// The environment variable the CLI reads the client key from.
        #[arg(long, default_value = "CODEX_POOL_KEY")]
        key_env: String,
        /// Apply to $CODEX_HOME/config.toml (a backup is saved first).
        #[arg(long)]
        write: bool,
    },
    /// Client keys for [[api_keys]].
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Usage from the gateway's usage file: requests, errors and tokens by
    /// key, model, account, route, code, day or hour.
    Usage {
        /// Config file; without it, as `serve`.
        #[arg(long)]
        config: Option<PathBuf>,
        /// From when: 7d, 24h, 2026-12-01, an RFC 3339 time or unix seconds.
        #[arg(long, default_value = "7d")]
        since: String,
        /// Until when (default: now), written as --since.
        #[arg(long)]
        until: Option<String>,
        /// Group by these, comma-separated: key, model, account, route, code, day, hour.
        #[arg(long, default_value = "key,model")]
        by: String,
        /// CSV instead of a table.
        #[arg(long)]
        csv: bool,
    },
    /// Print a fresh random admin token and its [admin] stanza (with only its hash).
    AdminToken,
    /// Print a fresh random encryption key for [store] encryption_key_file.
    StoreKey,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print a fresh random key and its [[api_keys]] stanza (with only its hash).
    New { name: String },
}

pub fn main(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve { config } => serve(config),
        Command::CheckConfig { config } => check::check_config(config),
        Command::Doctor {
            config,
            json,
            refresh,
        } => doctor::doctor(config, &doctor::Options { json, refresh }),
        Command::Login {
            config,
            account,
            device,
        } => match solo::config_path(config) {
            Ok((path, default)) => runtime_then(|| async move {
                let created = solo::creates_default(&path, default);
                login::login(&path, &account, device).await?;
                solo::add_header(&path, created)
            }),
            Err(e) => report(Err(e)),
        },
        Command::Import {
            config,
            account,
            file,
        } => match solo::config_path(config) {
            Ok((path, default)) => runtime_then(|| async move {
                let created = solo::creates_default(&path, default);
                let login = login::import(&path, &account, &file)?;
                solo::add_header(&path, created)?;
                shared::store_login(&path, &account, &login).await
            }),
            Err(e) => report(Err(e)),
        },
        Command::Accounts { config } => match solo::config_path(config) {
            Ok((path, _)) => runtime_then(|| async move { accounts::accounts(&path).await }),
            Err(e) => report(Err(e)),
        },
        Command::CodexConfig {
            config,
            url,
            backend_url,
            team,
            key_env,
            write,
        } => {
            let opts = codex_config::Options {
                url,
                backend_url,
                team,
                key_env,
                write,
            };
            report(resolve_config(config).and_then(|c| codex_config::run(&c, &opts)))
        }
        Command::Keys {
            command: KeysCommand::New { name },
        } => keys_new(&name),
        Command::Usage {
            config,
            since,
            until,
            by,
            csv,
        } => {
            let opts = usage::Options {
                since,
                until,
                by,
                csv,
            };
            report(resolve_config(config).and_then(|c| usage::run(&c, &opts)))
        }
        Command::AdminToken => admin_token(),
        Command::StoreKey => store_key(),
    }
}

fn report(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("codex-pool: {e}");
            ExitCode::FAILURE
        }
    }
}

fn runtime_then<F, Fut>(f: F) -> ExitCode
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => report(rt.block_on(f())),
        Err(e) => report(Err(format!("cannot start the runtime: {e}"))),
    }
}

/// The config to serve: `--config`, else the default file if it exists, else solo.
pub fn resolve_config(explicit: Option<PathBuf>) -> Result<Config, String> {
    if let Some(path) = explicit {
        return Config::load(&path).map_err(|e| e.to_string());
    }
    if let Some(path) = config::default_path().filter(|p| p.exists()) {
        return Config::load(&path).map_err(|e| e.to_string());
    }
    let home = config::codex_home()
        .ok_or("cannot find a home folder: set $CODEX_HOME or pass --config")?;
    if let Some(why) = solo::nothing_to_serve(&home) {
        return Err(why);
    }
    Ok(Config::solo(&home))
}

fn init_logging(format: LogFormat, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

fn serve(path: Option<PathBuf>) -> ExitCode {
    let config = match resolve_config(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    init_logging(config.log.format, &config.log.level);
    // `Config::load` logged these before logging was set up.
    for w in &config.warnings {
        tracing::warn!(key = %w.key, "{}", w.message);
    }
    warn_if_solo(&config);
    note_open_mode(&config);
    crate::server::fdlimit::raise();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = config.server.worker_threads {
        builder.worker_threads(n);
    }
    let rt = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("codex-pool: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let workers = rt.metrics().num_workers();
    rt.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(config.server.listen).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(listen = %config.server.listen, error = %e, "cannot listen");
                return ExitCode::FAILURE;
            }
        };
        let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
        tracing::info!(
            accounts = config.accounts.len(),
            workers,
            config = %config.path.as_deref().map(|p| p.display().to_string()).unwrap_or_else(|| "built-in (solo)".into()),
            "codex-pool listening on http://{addr}"
        );
        match crate::run(config, listener, crate::shutdown_signal()).await {
            Ok(()) => {
                tracing::info!("stopped");
                ExitCode::SUCCESS
            }
            Err(e) => {
                tracing::error!("{e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Solo mode (no config file) serves the Codex CLI's own live login: both
/// programs then refresh one rotating refresh token, and whichever spends it
/// second logs the account out. Said once at start, with the way out.
fn warn_if_solo(config: &Config) {
    if config.path.is_some() {
        return;
    }
    for a in &config.accounts {
        let file = a.auth_file.display();
        tracing::warn!(
            auth_file = %file,
            "solo mode: no config file, so this gateway serves the Codex CLI's own login and both refresh one token, which can log the account out; to avoid it, copy the login into a file of its own with `codex-pool import --config CONFIG --account NAME {file}`, serve with `--config CONFIG`, then run `codex login` again for the CLI"
        );
    }
}

/// Open mode (no client keys) trusts every local process of every user:
/// said once at start, with the way out.
fn note_open_mode(config: &Config) {
    if config.api_keys.is_empty() {
        tracing::info!("no [[api_keys]]: every process on this machine, of any user, can use the pool, read /wham/usage and see the account names; on a shared host add a key (`codex-pool keys new NAME`)");
    }
}

/// 32 random bytes in hex after `prefix`, and the SHA-256 of the whole, in hex.
fn random_secret(prefix: &str) -> Result<(String, String), String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("codex-pool: no randomness: {e}"))?;
    let secret = format!("{prefix}{}", hex::encode(bytes));
    let hash = hex::encode(Sha256::digest(secret.as_bytes()));
    Ok((secret, hash))
}

fn keys_new(name: &str) -> ExitCode {
    let (key, hash) = match random_secret("sk-pool-") {
        Ok(pair) => pair,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    println!("# the key (give it to the client; it is not stored anywhere):");
    println!("{key}");
    println!();
    println!("# add to the config:");
    println!("[[api_keys]]");
    println!("name = {}", toml_edit::Value::from(name));
    println!("key_sha256 = \"{hash}\"");
    ExitCode::SUCCESS
}

/// A new store key on stdout, the only line there, so that
/// `codex-pool store-key > key && chmod 600 key` makes the file.
fn store_key() -> ExitCode {
    match crate::seal::Key::generate() {
        Ok(key) => {
            println!("{key}");
            eprintln!("# save it in a file only its owner can read (chmod 600), the same on every replica, and set [store] encryption_key_file to it");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot make a random key: {e}");
            ExitCode::FAILURE
        }
    }
}

fn admin_token() -> ExitCode {
    let (token, hash) = match random_secret("adm-") {
        Ok(pair) => pair,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "# the admin token (send it as `authorization: Bearer ...`; it is not stored anywhere):"
    );
    println!("{token}");
    println!();
    println!("# add to the config:");
    println!("[admin]");
    println!("token_sha256 = \"{hash}\"");
    println!();
    println!("# `codex-pool accounts` then reads the token from CODEX_POOL_ADMIN_TOKEN.");
    ExitCode::SUCCESS
}
