//! Where a login goes: the account's auth file, and its `[[accounts]]` entry.
//!
//! An account the config already lists keeps its `auth_file`; a new one gets
//! `accounts/NAME.json` beside the config and an entry appended with
//! `toml_edit`, so the rest of the file (comments, order, layout) stays as the
//! user wrote it. The config file is created when it does not exist yet. The
//! auth file is written under its `FileLock` (`src/auth/lock.rs`), the lock a
//! refresh holds.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use std::time::Duration;

use toml_edit::{ArrayOfTables, DocumentMut, InlineTable, Item, Table, Value};

use crate::auth::file::{self, AuthFile};
use crate::auth::lock::FileLock;
use crate::config::{self, Config, DEFAULT_ISSUER};

/// How long a login waits for the auth file's lock: longer than a refresh
/// holds it (three issuer attempts of at most 30 s each).
const LOCK_WAIT: Duration = Duration::from_secs(120);

/// The account a login is stored under, as the config file has it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub config_path: PathBuf,
    pub account: String,
    /// Where the tokens go (absolute, or relative to the working folder).
    pub auth_file: PathBuf,
    /// `[upstream].issuer`, or the default when the config does not exist.
    pub issuer: String,
    /// Whether the config already has an `[[accounts]]` entry for the account.
    pub listed: bool,
}

impl Destination {
    /// Reads the config (if it exists) to find where `account`'s login goes.
    pub fn resolve(config_path: &Path, account: &str) -> Result<Destination, String> {
        // The rule of `[[accounts]].name`; it also names the default auth file.
        if !config::valid_name(account) {
            return Err(format!("account name {account:?} {}", config::NAME_RULE));
        }
        let relative = Destination::default_auth_file(account);
        let dir = config::folder_of(config_path);
        let mut dest = Destination {
            config_path: config_path.to_path_buf(),
            account: account.to_string(),
            auth_file: dir.join(&relative),
            issuer: DEFAULT_ISSUER.to_string(),
            listed: false,
        };
        match fs::metadata(config_path) {
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(dest),
            Err(e) => return Err(format!("cannot read {}: {e}", config_path.display())),
            Ok(_) => {}
        }
        let config = Config::load(config_path).map_err(|e| e.to_string())?;
        dest.issuer = config.upstream.issuer.clone();
        if let Some(a) = config.account(account) {
            dest.auth_file = a.auth_file.clone();
            dest.listed = true;
        }
        Ok(dest)
    }

    /// `accounts/NAME.json`, relative to the config's folder.
    pub fn default_auth_file(account: &str) -> String {
        format!("accounts/{account}.json")
    }

    /// Writes `file` as the account's login; returns whether the config entry was added.
    pub fn store(&self, file: &AuthFile) -> Result<bool, String> {
        let mut bytes = serde_json::to_vec_pretty(file).map_err(|e| {
            format!(
                "cannot encode the login for {}: {e}",
                self.auth_file.display()
            )
        })?;
        bytes.push(b'\n');
        self.store_bytes(&bytes)
    }

    /// Writes `bytes` (an `auth.json`) as the account's login, 0600 and atomic,
    /// under the auth file's lock, then lists the account in the config if it
    /// is not; returns whether it was added.
    ///
    /// The lock is the one a refresh holds from loading the file to saving it,
    /// so a new login lands before or after a refresh, never inside one (the
    /// refresh then finds it and keeps it). Blocks up to `LOCK_WAIT`.
    pub fn store_bytes(&self, bytes: &[u8]) -> Result<bool, String> {
        self.store_bytes_within(bytes, LOCK_WAIT)
    }

    fn store_bytes_within(&self, bytes: &[u8], wait: Duration) -> Result<bool, String> {
        if let Some(dir) = self
            .auth_file
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            if !dir.exists() {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
        }
        let lock = FileLock::acquire(&self.auth_file, wait).map_err(|e| e.to_string())?;
        file::write_atomic(&self.auth_file, bytes)
            .map_err(|e| format!("cannot write {}: {e}", self.auth_file.display()))?;
        drop(lock);
        self.list()
    }

    /// Lists the account in the config (`auth_file = "accounts/NAME.json"`)
    /// unless it is there; returns whether it was added.
    pub fn list(&self) -> Result<bool, String> {
        let auth_file = Destination::default_auth_file(&self.account);
        list_account(&self.config_path, &self.account, &auth_file)
    }
}

/// Appends `[[accounts]] name, auth_file` to the config unless an entry with
/// that name is there (read afresh: a login takes minutes). Returns whether it wrote.
fn list_account(config_path: &Path, account: &str, auth_file: &str) -> Result<bool, String> {
    let shown = config_path.display();
    let (text, mode) = match fs::read_to_string(config_path) {
        Ok(text) => {
            let mode = fs::metadata(config_path)
                .map(|m| m.permissions().mode() & 0o7777)
                .ok();
            (text, mode)
        }
        Err(e) if e.kind() == ErrorKind::NotFound => (String::new(), None),
        Err(e) => return Err(format!("cannot read {shown}: {e}")),
    };
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e| format!("{shown} is not valid TOML: {e}"))?;
    let name_is = |v: Option<&Item>| v.and_then(Item::as_str) == Some(account);
    match doc.get_mut("accounts") {
        None => {
            let mut list = ArrayOfTables::new();
            list.push(entry(account, auth_file));
            doc.insert("accounts", Item::ArrayOfTables(list));
        }
        Some(Item::ArrayOfTables(list)) => {
            if list.iter().any(|t| name_is(t.get("name"))) {
                return Ok(false);
            }
            list.push(entry(account, auth_file));
        }
        Some(Item::Value(Value::Array(list))) => {
            let listed = list
                .iter()
                .filter_map(Value::as_inline_table)
                .any(|t| t.get("name").and_then(Value::as_str) == Some(account));
            if listed {
                return Ok(false);
            }
            let mut t = InlineTable::new();
            t.insert("name", account.into());
            t.insert("auth_file", auth_file.into());
            list.push(t);
        }
        Some(_) => {
            return Err(format!(
                "`accounts` in {shown} is not a list of [[accounts]] tables"
            ))
        }
    }
    let new_text = doc.to_string();
    Config::parse(&new_text, config_path).map_err(|e| {
        format!(
            "not adding account {account:?} to {shown}: the file would not be a valid config:\n{e}"
        )
    })?;
    file::write_atomic(config_path, new_text.as_bytes())
        .map_err(|e| format!("cannot write {shown}: {e}"))?;
    if let Some(mode) = mode {
        fs::set_permissions(config_path, fs::Permissions::from_mode(mode))
            .map_err(|e| format!("cannot restore the mode of {shown}: {e}"))?;
    }
    Ok(true)
}

fn entry(account: &str, auth_file: &str) -> Table {
    let mut t = Table::new();
    t.insert("name", toml_edit::value(account));
    t.insert("auth_file", toml_edit::value(auth_file));
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_is_written_only_once_the_lock_holder_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let dest = Destination::resolve(&dir.path().join("pool.toml"), "work").unwrap();
        let auth_file = dest.auth_file.clone();
        fs::create_dir_all(auth_file.parent().unwrap()).unwrap();
        // A refresh of this account, mid-flight in another process.
        let held = FileLock::acquire(&auth_file, Duration::from_secs(1)).unwrap();
        let login = std::thread::spawn(move || dest.store_bytes(b"{}\n"));
        std::thread::sleep(Duration::from_millis(300));
        assert!(!auth_file.exists(), "written while the lock was held");
        drop(held);
        assert_eq!(login.join().unwrap(), Ok(true));
        assert_eq!(fs::read(&auth_file).unwrap(), b"{}\n");
    }

    #[test]
    fn a_lock_that_stays_held_fails_the_login_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("pool.toml");
        let dest = Destination::resolve(&config, "work").unwrap();
        fs::create_dir_all(dest.auth_file.parent().unwrap()).unwrap();
        let _held = FileLock::acquire(&dest.auth_file, Duration::from_secs(1)).unwrap();
        let err = dest
            .store_bytes_within(b"{}\n", Duration::from_millis(100))
            .unwrap_err();
        assert!(
            err.contains("work.json.lock") && err.contains("held by another program"),
            "{err}"
        );
        assert!(!dest.auth_file.exists());
        assert!(
            !config.exists(),
            "listed an account whose login was not stored"
        );
    }
}
