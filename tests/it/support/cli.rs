//! The binary's one-shot commands (`check-config`, `import`, `keys new`,
//! `store-key`, …): run to the end, their output as text.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `codex-pool` binary cargo built for these tests.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_codex-pool")
}

/// What a command said.
pub struct Out {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// `codex-pool ARGS…`, to add environment or arguments to.
pub fn command(args: &[&str]) -> Command {
    let mut c = Command::new(binary());
    c.args(args);
    c
}

/// Runs `cmd` to its end.
pub fn output(cmd: &mut Command) -> Out {
    let out = cmd.output().unwrap();
    Out {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `codex-pool ARGS…` to its end.
pub fn run(args: &[&str]) -> Out {
    output(&mut command(args))
}

/// `codex-pool check-config --config PATH`, without an admin token from the
/// environment.
pub fn check_config(path: &Path) -> Out {
    output(
        command(&["check-config", "--config"])
            .arg(path)
            .env_remove("CODEX_POOL_ADMIN_TOKEN"),
    )
}

/// A store key file (mode 0600) in `dir`, made by `codex-pool store-key`.
pub fn store_key(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let out = Command::new(binary()).arg("store-key").output().unwrap();
    assert!(out.status.success());
    let p = dir.join("store.key");
    std::fs::write(&p, &out.stdout).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}
