//! `codex-pool accounts`: the accounts table.

use std::path::Path;

pub async fn accounts(_config: &Path) -> Result<(), String> {
    Err("accounts is being built".into())
}
