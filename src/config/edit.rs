//! Changes to the config file that the gateway makes itself (the console's
//! client keys), with `toml_edit` so comments and layout stay as written.
//! The file is replaced atomically and keeps its permission bits.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table};

fn read(path: &Path) -> Result<DocumentMut, String> {
    let shown = path.display();
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("cannot read {shown}: {e}")),
    };
    text.parse()
        .map_err(|e| format!("{shown} is not valid TOML: {e}"))
}

fn write(path: &Path, doc: &DocumentMut) -> Result<(), String> {
    let shown = path.display();
    let mode = fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o600);
    let tmp = path.with_extension("toml.tmp");
    fs::write(&tmp, doc.to_string()).map_err(|e| format!("cannot write {shown}: {e}"))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))
        .and_then(|()| fs::rename(&tmp, path))
        .map_err(|e| format!("cannot write {shown}: {e}"))
}

fn names(doc: &DocumentMut) -> Vec<String> {
    doc.get("api_keys")
        .and_then(Item::as_array_of_tables)
        .map(|l| {
            l.iter()
                .filter_map(|t| t.get("name").and_then(Item::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Appends `[[api_keys]] name, key_sha256` (only the key's hash is written).
pub fn add_api_key(path: &Path, name: &str, sha256_hex: &str) -> Result<(), String> {
    let mut doc = read(path)?;
    if names(&doc).iter().any(|n| n == name) {
        return Err(format!("a key named {name:?} exists already"));
    }
    let mut t = Table::new();
    t.insert("name", toml_edit::value(name));
    t.insert("key_sha256", toml_edit::value(sha256_hex));
    match doc.get_mut("api_keys") {
        None => {
            let mut list = ArrayOfTables::new();
            list.push(t);
            doc.insert("api_keys", Item::ArrayOfTables(list));
        }
        Some(Item::ArrayOfTables(list)) => list.push(t),
        Some(_) => return Err("`api_keys` is not a list of [[api_keys]] tables".into()),
    }
    write(path, &doc)
}

/// Removes the `[[api_keys]]` entry named `name`.
pub fn remove_api_key(path: &Path, name: &str) -> Result<(), String> {
    let mut doc = read(path)?;
    let Some(Item::ArrayOfTables(list)) = doc.get_mut("api_keys") else {
        return Err(format!("no key named {name:?}"));
    };
    let Some(i) = list
        .iter()
        .position(|t| t.get("name").and_then(Item::as_str) == Some(name))
    else {
        return Err(format!("no key named {name:?}"));
    };
    list.remove(i);
    if list.is_empty() {
        doc.remove("api_keys");
    }
    write(path, &doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_and_removes_keys_keeping_comments() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        fs::write(&p, "# mine\n[server]\nlisten = \"127.0.0.1:1\"\n").unwrap();
        add_api_key(&p, "ci", "ab").unwrap();
        add_api_key(&p, "dev", "cd").unwrap();
        assert!(add_api_key(&p, "ci", "ef").is_err());
        remove_api_key(&p, "ci").unwrap();
        let text = fs::read_to_string(&p).unwrap();
        assert!(text.starts_with("# mine\n"), "{text}");
        assert!(
            text.contains("name = \"dev\"") && !text.contains("\"ci\""),
            "{text}"
        );
        assert!(remove_api_key(&p, "ci").is_err());
    }
}
