//! Where things are by default: the config file, the Codex CLI's home, the
//! folder of a file.

use std::path::{Path, PathBuf};

/// The default config file: `$XDG_CONFIG_HOME/codex-pool/config.toml`, else `~/.config/...`.
pub fn default_path() -> Option<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(x).join("codex-pool/config.toml"));
    }
    home_dir().map(|h| h.join(".config/codex-pool/config.toml"))
}

/// `$CODEX_HOME`, else `~/.codex`.
pub fn codex_home() -> Option<PathBuf> {
    if let Some(x) = std::env::var_os("CODEX_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(x));
    }
    home_dir().map(|h| h.join(".codex"))
}

/// The folder holding the file at `path`; `.` for a bare file name.
pub fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

pub(super) fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}
