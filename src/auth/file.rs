//! A login's file: a Codex CLI `auth.json` on disk. (The Redis store shared
//! by replicas is `crate::store`; this module is only the file.)
//!
//! Reads refuse files that group or others can read (as ssh does); writes are
//! atomic (temp file in the same folder, fsync, rename, fsync the folder) with
//! mode 0600, so a crash leaves either the old file or the new one, never half.
//! A symlinked file stays a link, and a rewritten file keeps its owner
//! (`file/replace.rs`). A writer that loaded the file first saves with
//! `save_if_unchanged` (`file/swap.rs`), which keeps a newer login it finds.
//! Fields this program does not know are kept as they were, and `Debug`
//! shows none of them but their names (`file/debug.rs`).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::jwt::{self, Claims};
use crate::secret::Secret;

mod debug;
mod headers;
mod replace;
mod swap;

pub use headers::{HeaderCache, LoginHeaders};
pub(crate) use replace::canonical_target;
pub use swap::{save_if_unchanged, save_if_unchanged_async, Saved};

/// The Codex CLI's `auth.json`. Its `Debug` (in `file/debug.rs`) shows no secret.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct AuthFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_mode: Option<String>,
    #[serde(rename = "OPENAI_API_KEY", default)]
    pub openai_api_key: Option<Secret<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<TokenData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_refresh: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Clone, Default, Serialize, Deserialize)]
pub struct TokenData {
    pub id_token: Secret<String>,
    pub access_token: Secret<String>,
    pub refresh_token: Secret<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("permissions {mode:04o} for {path} are too open: a token file must not be readable by others; run `chmod 600 {path}`")]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("{path} is not a Codex auth.json: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("{path} holds no ChatGPT login (no tokens); log in with `codex-pool login` or `codex login`")]
    NoTokens { path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot lock {lock_path}: {source}")]
    Lock {
        lock_path: PathBuf,
        source: std::io::Error,
    },
    #[error("{lock_path} is still held by another program after {}; nothing was written, try again", humantime::format_duration(*wait))]
    Busy {
        lock_path: PathBuf,
        wait: std::time::Duration,
    },
}

impl FileError {
    /// The problem without the folder it is in, and without file contents:
    /// fit for `/readyz`, admin views and client error messages. The full
    /// text (with the path) is for the operator's log.
    pub fn brief(&self) -> String {
        let name = |p: &Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "the auth file".into())
        };
        match self {
            FileError::Read { path, source } => match source.kind() {
                std::io::ErrorKind::NotFound => format!("{} does not exist; log in", name(path)),
                _ => format!("{} cannot be read ({})", name(path), source.kind()),
            },
            FileError::TooOpen { path, mode } => {
                format!(
                    "{} has permissions {mode:04o}, too open; chmod 600 it",
                    name(path)
                )
            }
            FileError::Invalid { path, .. } => format!("{} is not a Codex auth.json", name(path)),
            FileError::NoTokens { path } => format!("{} holds no ChatGPT login", name(path)),
            FileError::Write { path, source } => {
                format!("{} cannot be written ({})", name(path), source.kind())
            }
            FileError::Lock { lock_path, source } => {
                format!("{} cannot be locked ({})", name(lock_path), source.kind())
            }
            FileError::Busy { lock_path, .. } => {
                format!("{} is held by another program", name(lock_path))
            }
        }
    }
}

/// What the program needs from a login, derived once when it is loaded.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub access_token: Secret<String>,
    pub refresh_token: Secret<String>,
    pub account_id: Option<String>,
    pub email: Option<String>,
    pub plan: Option<String>,
    /// The access token's `exp`, unix seconds.
    pub expires_at: Option<i64>,
    pub last_refresh: Option<SystemTime>,
    /// When this login's tokens were issued (unix seconds): the latest of the
    /// access and id tokens' `iat` and `last_refresh`. A login issued later
    /// is newer (`auth::newer`).
    pub issued_at: Option<i64>,
    /// The header values requests send for this login (`Credentials::headers`).
    pub header_cache: HeaderCache,
}

impl Credentials {
    pub fn from_tokens(tokens: &TokenData, last_refresh: Option<&str>) -> Credentials {
        let id = jwt::decode(tokens.id_token.expose()).unwrap_or_default();
        let access = jwt::decode(tokens.access_token.expose()).unwrap_or_default();
        let refreshed = last_refresh.and_then(|t| humantime::parse_rfc3339_weak(t).ok());
        let account_id = tokens
            .account_id
            .clone()
            .filter(|s| !s.is_empty())
            .or_else(|| id.auth.chatgpt_account_id.clone())
            .or_else(|| access.auth.chatgpt_account_id.clone());
        Credentials {
            access_token: tokens.access_token.clone(),
            refresh_token: tokens.refresh_token.clone(),
            account_id,
            email: first(&id, &access, |c| c.email().map(str::to_owned)),
            plan: first(&id, &access, |c| c.auth.chatgpt_plan_type.clone()),
            expires_at: access.exp,
            issued_at: [access.iat, id.iat, refreshed.map(crate::clock::unix)]
                .into_iter()
                .flatten()
                .max(),
            last_refresh: refreshed,
            header_cache: HeaderCache::default(),
        }
    }
}

fn first<T>(a: &Claims, b: &Claims, f: impl Fn(&Claims) -> Option<T>) -> Option<T> {
    f(a).or_else(|| f(b))
}

/// Reads `path`, refusing a file readable by group or others.
pub fn load(path: &Path) -> Result<AuthFile, FileError> {
    let read_err = |source| FileError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = fs::metadata(path).map_err(read_err)?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(FileError::TooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    let bytes = fs::read(path).map_err(read_err)?;
    parse(path, &bytes)
}

/// Parses the bytes of the auth file `path`.
fn parse(path: &Path, bytes: &[u8]) -> Result<AuthFile, FileError> {
    serde_json::from_slice(bytes).map_err(|e| FileError::Invalid {
        path: path.to_path_buf(),
        // serde's message can quote the offending value (a token): keep only where.
        reason: format!(
            "{:?} error at line {} column {}",
            e.classify(),
            e.line(),
            e.column()
        ),
    })
}

/// Reads `path` and derives its credentials.
pub fn load_credentials(path: &Path) -> Result<(AuthFile, Credentials), FileError> {
    let file = load(path)?;
    let Some(tokens) = file.tokens.as_ref() else {
        return Err(FileError::NoTokens {
            path: path.to_path_buf(),
        });
    };
    if tokens.access_token.expose().is_empty() {
        return Err(FileError::NoTokens {
            path: path.to_path_buf(),
        });
    }
    let creds = Credentials::from_tokens(tokens, file.last_refresh.as_deref());
    Ok((file, creds))
}

/// Writes `file` to `path` atomically with mode 0600, whatever `path` holds
/// now. A writer that loaded the file before (a refresh) uses
/// `save_if_unchanged` instead, so that it cannot overwrite a newer login.
/// This blocks on fsync: async code calls it from `spawn_blocking`.
pub fn save(path: &Path, file: &AuthFile) -> Result<(), FileError> {
    let bytes = encode(path, file)?;
    write_atomic(path, &bytes).map_err(|source| FileError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// `file` as the JSON text `save` writes.
fn encode(path: &Path, file: &AuthFile) -> Result<Vec<u8>, FileError> {
    let mut bytes = serde_json::to_vec_pretty(file).map_err(|e| FileError::Invalid {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Temp file beside `path` (0600, or the old file's stricter mode and its
/// owner), fsync, rename over `path`, fsync the folder; stale temp files of
/// `path` go. A symlink stays one: `path`'s final target is what is replaced.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, bytes, |_| Ok(None::<()>)).map(|_| ())
}

/// `write_atomic` with a hook run between the fsync and the rename, given the
/// file about to be replaced: `Some(veto)` keeps that file and removes the temp
/// file (`save_if_unchanged` compares there), and tests use an error to stand
/// for a crash at the worst moment. Returns the veto, `None` once renamed.
fn write_atomic_with<T>(
    path: &Path,
    bytes: &[u8],
    before_rename: impl FnOnce(&Path) -> std::io::Result<Option<T>>,
) -> std::io::Result<Option<T>> {
    fs::create_dir_all(crate::config::folder_of(path))?;
    // A symlink stays a link: the file it points to is the one replaced.
    let target = canonical_target(path)?;
    let path = target.as_path();
    let dir = crate::config::folder_of(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "auth.json".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", uuid::Uuid::new_v4().simple()));
    let old = fs::metadata(path).ok();
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        replace::take_over(&f, old.as_ref())?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        if let Some(veto) = before_rename(path)? {
            return Ok(Some(veto));
        }
        fs::rename(&tmp, path)?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(None)
    })();
    match result {
        Ok(None) => replace::remove_stale_temps(dir, &name),
        Ok(Some(_)) | Err(_) => {
            let _ = fs::remove_file(&tmp);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample(access: &str) -> String {
        json!({
            "auth_mode": "chatgpt",
            "OPENAI_API_KEY": null,
            "tokens": {
                "id_token": jwt::encode_unsigned(&json!({"email": "a@example.com",
                    "https://api.openai.com/auth": {"chatgpt_account_id": "acc-from-claims", "chatgpt_plan_type": "plus"}})),
                "access_token": access,
                "refresh_token": "rt-1",
            },
            "last_refresh": "2026-07-30T12:34:56.789Z",
            "future_field": {"kept": true}
        })
        .to_string()
    }

    fn write(dir: &Path, mode: u32, text: &str) -> PathBuf {
        let p = dir.join("auth.json");
        fs::write(&p, text).unwrap_or_default();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap_or_default();
        p
    }

    #[test]
    fn loads_and_derives_account_id_from_claims() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let access = jwt::encode_unsigned(&json!({"exp": 1_900_000_000}));
        let p = write(dir.path(), 0o600, &sample(&access));
        let (_, c) = load_credentials(&p).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.account_id.as_deref(), Some("acc-from-claims"));
        assert_eq!(c.plan.as_deref(), Some("plus"));
        assert_eq!(c.email.as_deref(), Some("a@example.com"));
        assert_eq!(c.expires_at, Some(1_900_000_000));
        assert!(c.last_refresh.is_some());
    }

    #[test]
    fn refuses_a_file_others_can_read() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = write(dir.path(), 0o644, &sample("at"));
        let err = load(&p).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            err.contains("too open") && err.contains("auth.json") && err.contains("0644"),
            "{err}"
        );
    }

    #[test]
    fn save_is_0600_and_keeps_unknown_fields() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = write(dir.path(), 0o600, &sample("at"));
        let mut f = load(&p).unwrap_or_else(|e| panic!("{e}"));
        if let Some(t) = f.tokens.as_mut() {
            t.refresh_token = Secret::new("rt-2".into());
        }
        save(&p, &f).unwrap_or_else(|e| panic!("{e}"));
        let mode = fs::metadata(&p)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0);
        assert_eq!(mode, 0o600);
        let v: Value =
            serde_json::from_slice(&fs::read(&p).unwrap_or_default()).unwrap_or_default();
        assert_eq!(v["tokens"]["refresh_token"], "rt-2");
        assert_eq!(v["future_field"]["kept"], true);
        assert_eq!(v["OPENAI_API_KEY"], Value::Null);
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .map(|r| r.filter_map(Result::ok).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert_eq!(leftovers.len(), 1, "temp files left: {leftovers:?}");
    }

    #[test]
    fn a_crash_between_write_and_rename_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = write(dir.path(), 0o600, &sample("old"));
        let crash = |_: &Path| Err::<Option<()>, _>(std::io::Error::other("power cut"));
        assert!(write_atomic_with(&p, b"{\"half\":", crash).is_err());
        let (_, c) = load_credentials(&p).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.access_token.expose(), "old");
        let names: Vec<_> = fs::read_dir(dir.path())
            .map(|r| r.filter_map(Result::ok).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert_eq!(names.len(), 1, "temp file left behind: {names:?}");
    }
}
