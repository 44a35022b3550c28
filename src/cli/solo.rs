//! The solo path: no config file written by hand. The account commands
//! (`login`, `import`, `accounts`) use the default config file `serve` reads
//! when `--config` is not given; the first login creates it, with a comment
//! header saying what it is. `serve` with neither a config nor a Codex login
//! says what to run.

use std::path::{Path, PathBuf};

use crate::config;

/// The header a config file created by the first login starts with.
const HEADER: &str = "\
# codex-pool configuration, created by the first `codex-pool login`.
# `codex-pool login --account NAME` and `codex-pool import` add [[accounts]]
# below; `codex-pool serve` reads this file when no --config is given.
# Every other key is optional: see config.example.toml in codex-pool for all
# of them, e.g.
#
# [server]
# listen = \"127.0.0.1:8787\"
#
# [pool]
# strategy = \"primary_first\"   # or \"round_robin\", \"priority_order\"

";

/// `--config`, else the default config file.
pub(super) fn config_path(explicit: Option<PathBuf>) -> Result<(PathBuf, bool), String> {
    match explicit {
        Some(p) => Ok((p, false)),
        None => config::default_path().map(|p| (p, true)).ok_or_else(|| {
            "cannot find a home folder for the default config: set $HOME or pass --config".into()
        }),
    }
}

/// Whether an account command on `path` is about to create the default file.
pub(super) fn creates_default(path: &Path, is_default: bool) -> bool {
    is_default && !path.exists()
}

/// After an account command: the default file it `created` gets the comment
/// header (the command itself wrote only its `[[accounts]]` entry).
pub(super) fn add_header(path: &Path, created: bool) -> Result<(), String> {
    if !created || !path.exists() {
        return Ok(());
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    crate::auth::file::write_atomic(path, format!("{HEADER}{text}").as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("created {} (the default config file)", path.display());
    Ok(())
}

/// Why there is nothing to serve without a config, in one line, when the
/// solo account's login (`$CODEX_HOME/auth.json`) does not exist either.
pub(super) fn nothing_to_serve(codex_home: &Path) -> Option<String> {
    let auth = codex_home.join("auth.json");
    if auth.exists() {
        return None;
    }
    let config = config::default_path()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "the default config file".into());
    Some(format!(
        "codex-pool: no config ({config}) and no Codex login ({}); run `codex-pool login --account personal` first, then `codex-pool serve`",
        auth.display()
    ))
}
