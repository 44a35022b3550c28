//! The map in `lib.rs` is checked, not only described: this test reads the
//! numbered list of layers from the crate's doc and every file under `src/`,
//! and fails, naming the file and line, when a module imports from its own
//! layer or one above it (a `crate::…` path anywhere in code, not in comments
//! or strings). Every top-level module must be in exactly one layer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Layer of each module, from the `//! N. `a`, `b`: …` lines of `lib.rs`
/// (1 is the top).
fn layers(lib: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for line in lib.lines() {
        let Some(item) = line.strip_prefix("//! ") else {
            continue;
        };
        let Some((number, rest)) = item.split_once(". ") else {
            continue;
        };
        let Ok(layer) = number.trim().parse::<usize>() else {
            continue;
        };
        let names = rest.split(':').next().unwrap_or("");
        for name in names.split(',') {
            let name = name.trim().trim_matches('`');
            assert!(
                out.insert(name.to_string(), layer).is_none(),
                "lib.rs names `{name}` in two layers"
            );
        }
    }
    out
}

/// The top-level modules there are: `src/x.rs` and `src/x/`.
fn modules() -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(src()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if path.is_dir() || path.extension().is_some_and(|e| e == "rs") {
            out.push(name);
        }
    }
    out.retain(|m| !["lib", "main", "layers_test"].contains(&m.as_str()));
    out.sort();
    out.dedup();
    out
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `text` with comments, strings and char literals blanked (newlines kept,
/// so line numbers stay true).
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let blank = |s: &str, out: &mut String| {
        out.extend(s.chars().map(|c| if c == '\n' { '\n' } else { ' ' }));
    };
    let mut i = 0;
    while i < b.len() {
        let rest = &text[i..];
        let end = if rest.starts_with("//") {
            rest.find('\n').unwrap_or(rest.len())
        } else if rest.starts_with("/*") {
            rest.find("*/").map_or(rest.len(), |e| e + 2)
        } else if let Some(len) = raw_string(rest, i > 0 && is_ident(b[i - 1])) {
            len
        } else if rest.starts_with('"') {
            let mut j = 1;
            while j < rest.len() && rest.as_bytes()[j] != b'"' {
                j += if rest.as_bytes()[j] == b'\\' { 2 } else { 1 };
            }
            (j + 1).min(rest.len())
        } else if let Some(len) = char_literal(rest) {
            len
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
            continue;
        };
        blank(&rest[..end], &mut out);
        i += end;
    }
    out
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The length of a raw string (`r"…"`, `r#"…"#`) at the start of `s`.
fn raw_string(s: &str, after_ident: bool) -> Option<usize> {
    if after_ident {
        return None;
    }
    let hashes = s
        .strip_prefix('r')?
        .bytes()
        .take_while(|c| *c == b'#')
        .count();
    let open = 1 + hashes;
    if s.as_bytes().get(open) != Some(&b'"') {
        return None;
    }
    let close = format!("\"{}", "#".repeat(hashes));
    let end = s[open + 1..]
        .find(&close)
        .map_or(s.len(), |e| open + 1 + e + close.len());
    Some(end)
}

/// The length of a char literal (`'a'`, `'\n'`, `'\u{1F600}'`) at the start
/// of `s`; `None` for a lifetime.
fn char_literal(s: &str) -> Option<usize> {
    let body = s.strip_prefix('\'')?;
    let len = if body.starts_with('\\') {
        body.find('\'')?
    } else {
        body.chars().next()?.len_utf8()
    };
    (body.as_bytes().get(len) == Some(&b'\'')).then_some(len + 2)
}

/// The top-level modules named by `crate::…` paths on one line of code.
fn imports(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].bytes().last();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| is_ident(c) || c == b':') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a::x, b}`: the first name of each item at depth one.
            let mut depth = 0;
            let mut start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && (c.is_alphabetic() || c == '_') => {
                        out.push(ident(&group[j..]));
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.push(ident(rest));
        }
    }
    out
}

fn ident(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// Every import that does not point strictly down, as `file:line: …`.
fn violations(layers: &BTreeMap<String, usize>) -> Vec<String> {
    let root = src();
    let mut all = Vec::new();
    files(&root, &mut all);
    all.sort();
    let mut out = Vec::new();
    for path in all {
        let rel = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let module = rel
            .split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_string();
        let Some(&own) = layers.get(&module) else {
            continue;
        };
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in code_only(&text).lines().enumerate() {
            for target in imports(line) {
                if target == module {
                    continue;
                }
                // Not a module (`crate::run`, the root's own items): no layer.
                let Some(&theirs) = layers.get(&target) else {
                    continue;
                };
                if theirs <= own {
                    out.push(format!(
                        "src/{rel}:{}: `{module}` (layer {own}) imports `{target}` (layer {theirs}), not below its own",
                        n + 1
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn every_module_is_in_one_layer_of_the_map() {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let layers = layers(&lib);
    let missing: Vec<String> = modules()
        .into_iter()
        .filter(|m| !layers.contains_key(m))
        .collect();
    assert!(
        missing.is_empty(),
        "modules not in the map of lib.rs: {missing:?}"
    );
    let unknown: Vec<&String> = layers.keys().filter(|m| !modules().contains(m)).collect();
    assert!(
        unknown.is_empty(),
        "the map of lib.rs names modules that do not exist: {unknown:?}"
    );
}

#[test]
fn every_module_imports_only_from_layers_below_its_own() {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let found = violations(&layers(&lib));
    assert!(
        found.is_empty(),
        "imports against the map of lib.rs:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_reader_sees_paths_in_code_only() {
    let text = "use crate::pool::Account; // crate::server\nlet s = \"crate::app\";\nlet r = r#\"crate::cli\"#;\nlet c = '\"'; crate::keys::x();\nfn f<'a>(x: &'a str) { crate::{auth::file, config}; }\n/* crate::proxy */";
    let found: Vec<Vec<String>> = code_only(text).lines().map(imports).collect();
    assert_eq!(
        found,
        [
            vec!["pool"],
            vec![],
            vec![],
            vec!["keys"],
            vec!["auth", "config"],
            vec![],
        ]
    );
    assert_eq!(imports("a_crate::x; super::crate::z"), Vec::<String>::new());
}

#[test]
fn an_import_from_above_is_reported_with_its_file_and_line() {
    // The real tree against a map that puts `pool` above `server`: every
    // `crate::pool` in server is reported (modules off this map are skipped).
    let layers = BTreeMap::from([("pool".to_string(), 1), ("server".to_string(), 2)]);
    let found = violations(&layers);
    assert!(
        found
            .iter()
            .any(|v| v.starts_with("src/server/") && v.contains("imports `pool` (layer 1)")),
        "{found:?}"
    );
    assert!(found.iter().all(|v| v.contains(".rs:")), "{found:?}");
}
