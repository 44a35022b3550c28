//! `codex-pool login` (browser PKCE or device code) and `codex-pool import`.

use std::path::Path;

pub async fn login(_config: &Path, _account: &str, _device: bool) -> Result<(), String> {
    Err("login is being built".into())
}

pub fn import(_config: &Path, _account: &str, _file: &Path) -> Result<(), String> {
    Err("import is being built".into())
}
