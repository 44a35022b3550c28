//! The gateway under test, described: accounts and their logins, client keys,
//! the admin token and any further TOML, rendered into a config with
//! `toml_edit` (extra TOML is merged key by key; `[[…]]` entries are
//! appended), then started in process (`start`) or as the real binary
//! (`spawn`).
//!
//! ```ignore
//! Gateway::builder(&mock)
//!     .account("a").login(Login::expires_in(60))
//!     .account("b")
//!     .key("team", |k| k.rpm(4).accounts(&["a"]))
//!     .toml("[pool]\nstrategy = \"round_robin\"")
//!     .start().await
//! ```

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use toml_edit::{value, Array, ArrayOfTables, DocumentMut, Item, Table};

use super::login::{Login, Minted};
use super::Mock;

/// A key's default secret: `sk-<name>-123456`.
pub fn key_for(name: &str) -> String {
    format!("sk-{name}-123456")
}

type Prepare = Arc<dyn Fn(&Path) + Send + Sync>;

#[derive(Clone)]
struct Account {
    name: String,
    auth_file: String,
    login: Option<Minted>,
    table: Table,
}

/// What a gateway under test is made of; `Gateway::builder(&mock)` starts one.
#[derive(Clone)]
pub struct Builder {
    pub(crate) base_url: String,
    pub(crate) issuer: String,
    accounts: Vec<Account>,
    keys: Vec<Table>,
    pub(crate) admin: Option<String>,
    extra: Vec<String>,
    pub(crate) bind: String,
    prepare: Vec<Prepare>,
}

/// One `[[api_keys]]` entry.
pub struct Key(Table);

impl Key {
    /// The secret clients send (default `key_for(name)`).
    pub fn secret(mut self, secret: &str) -> Key {
        self.0.remove("key_sha256");
        self.0["key"] = value(secret);
        self
    }

    /// Only the SHA-256 of `secret` in the config.
    pub fn sha256_of(mut self, secret: &str) -> Key {
        self.0.remove("key");
        self.0["key_sha256"] = value(hex::encode(Sha256::digest(secret.as_bytes())));
        self
    }

    pub fn rpm(self, n: i64) -> Key {
        self.set("requests_per_minute", value(n))
    }

    pub fn tokens_per_hour(self, n: i64) -> Key {
        self.set("tokens_per_hour", value(n))
    }

    pub fn tokens_per_day(self, n: i64) -> Key {
        self.set("tokens_per_day", value(n))
    }

    pub fn accounts(self, names: &[&str]) -> Key {
        self.set("accounts", value(names.iter().copied().collect::<Array>()))
    }

    pub fn models(self, names: &[&str]) -> Key {
        self.set("models", value(names.iter().copied().collect::<Array>()))
    }

    pub fn strategy(self, name: &str) -> Key {
        self.set("strategy", value(name))
    }

    fn set(mut self, key: &str, item: Item) -> Key {
        self.0[key] = item;
        self
    }
}

impl Builder {
    pub(crate) fn new(mock: &Mock) -> Builder {
        Builder::at(&mock.base_url(), &mock.url())
    }

    /// Against this upstream and issuer (the mock's, usually).
    pub(crate) fn at(base_url: &str, issuer: &str) -> Builder {
        Builder {
            base_url: base_url.to_string(),
            issuer: issuer.to_string(),
            accounts: Vec::new(),
            keys: Vec::new(),
            admin: None,
            extra: Vec::new(),
            bind: "127.0.0.1:0".into(),
            prepare: Vec::new(),
        }
    }

    /// An account `name` (auth file `<name>.json`) with the default login.
    pub fn account(mut self, name: &str) -> Builder {
        let mut table = Table::new();
        table["name"] = value(name);
        table["auth_file"] = value(format!("{name}.json"));
        self.accounts.push(Account {
            name: name.to_string(),
            auth_file: format!("{name}.json"),
            login: Some(Login::default().mint(name)),
            table,
        });
        self
    }

    pub fn accounts(self, names: &[&str]) -> Builder {
        names.iter().fold(self, |b, n| b.account(n))
    }

    fn last(&mut self) -> &mut Account {
        self.accounts.last_mut().expect("an account first")
    }

    /// The last account's login.
    pub fn login(mut self, login: Login) -> Builder {
        let a = self.last();
        a.login = Some(login.mint(&a.name));
        self
    }

    /// The last account has no auth file.
    pub fn no_login(mut self) -> Builder {
        self.last().login = None;
        self
    }

    /// The last account's auth file, relative to the gateway's folder.
    pub fn auth_file(mut self, file: &str) -> Builder {
        let a = self.last();
        a.auth_file = file.to_string();
        a.table["auth_file"] = value(file);
        self
    }

    pub fn priority(mut self, n: i64) -> Builder {
        self.last().table["priority"] = value(n);
        self
    }

    pub fn disabled(mut self) -> Builder {
        self.last().table["enabled"] = value(false);
        self
    }

    /// A client key `name` (secret `key_for(name)` unless `configure` says).
    pub fn key(mut self, name: &str, configure: impl FnOnce(Key) -> Key) -> Builder {
        let mut t = Table::new();
        t["name"] = value(name);
        t["key"] = value(key_for(name));
        self.keys.push(configure(Key(t)).0);
        self
    }

    pub fn admin(mut self, token: &str) -> Builder {
        self.admin = Some(token.to_string());
        self
    }

    /// TOML merged over what the builder wrote (the escape hatch).
    pub fn toml(mut self, text: impl Into<String>) -> Builder {
        self.extra.push(text.into());
        self
    }

    /// State shared on this Redis (`[store]`), values sealed with the key
    /// in `key_file`.
    pub fn store(self, redis_url: &str, key_file: &Path) -> Builder {
        let mut doc = DocumentMut::new();
        let mut store = Table::new();
        store["redis_url"] = value(redis_url);
        store["encryption_key_file"] = value(key_file.to_str().unwrap());
        doc.insert("store", Item::Table(store));
        self.toml(doc.to_string())
    }

    /// Where the gateway listens (`127.0.0.1:0` unless said).
    pub fn bind(mut self, addr: &str) -> Builder {
        self.bind = addr.to_string();
        self
    }

    /// Runs `f` on the gateway's folder after the logins are written.
    pub fn prepare(mut self, f: impl Fn(&Path) + Send + Sync + 'static) -> Builder {
        self.prepare.push(Arc::new(f));
        self
    }

    /// The config text; with `listen`, `[server].listen` set to it.
    pub fn config(&self, listen: Option<&str>) -> String {
        let mut doc = DocumentMut::new();
        let mut upstream = Table::new();
        upstream["base_url"] = value(&self.base_url);
        upstream["issuer"] = value(&self.issuer);
        upstream["idle_timeout"] = value("5s");
        upstream["connect_timeout"] = value("2s");
        doc.insert("upstream", Item::Table(upstream));
        if let Some(listen) = listen {
            let mut server = Table::new();
            server["listen"] = value(listen);
            doc.insert("server", Item::Table(server));
        }
        if let Some(token) = &self.admin {
            let mut admin = Table::new();
            admin["token"] = value(token);
            doc.insert("admin", Item::Table(admin));
        }
        let entries = |tables: Vec<Table>| {
            let mut a = ArrayOfTables::new();
            tables.into_iter().for_each(|t| a.push(t));
            Item::ArrayOfTables(a)
        };
        if !self.accounts.is_empty() {
            let tables = self.accounts.iter().map(|a| a.table.clone()).collect();
            doc.insert("accounts", entries(tables));
        }
        if !self.keys.is_empty() {
            doc.insert("api_keys", entries(self.keys.clone()));
        }
        for text in &self.extra {
            let more: DocumentMut = text
                .parse()
                .unwrap_or_else(|e| panic!("extra TOML does not parse ({e}):\n{text}"));
            merge(doc.as_table_mut(), more.as_table());
        }
        doc.to_string()
    }

    /// Writes the logins, runs `prepare`, and writes the config (mode 0600)
    /// into `dir`; returns the config's path.
    pub(crate) fn write(&self, dir: &Path, listen: Option<&str>) -> PathBuf {
        for a in &self.accounts {
            if let Some(login) = &a.login {
                login.write(&dir.join(&a.auth_file));
            }
        }
        for f in &self.prepare {
            f(dir);
        }
        let path = dir.join("config.toml");
        std::fs::write(&path, self.config(listen)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    }
}

/// Merges `from` into `into`: tables key by key, `[[…]]` entries appended,
/// anything else replaced.
fn merge(into: &mut Table, from: &Table) {
    for (key, item) in from.iter() {
        match (into.get_mut(key), item) {
            (Some(Item::Table(a)), Item::Table(b)) => merge(a, b),
            (Some(Item::ArrayOfTables(a)), Item::ArrayOfTables(b)) => {
                b.iter().for_each(|t| a.push(t.clone()))
            }
            _ => {
                into.insert(key, item.clone());
            }
        }
    }
}
