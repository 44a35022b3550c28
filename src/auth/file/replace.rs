//! What replacing an auth file keeps: a symlink stays a link (the new file
//! lands on its final target), the old file's owner and a strict mode stay;
//! and the temp files a crash left beside the file are cleared away.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Symlinks followed before giving up, as the kernel does (ELOOP).
const MAX_LINKS: usize = 40;
/// A temp file older than this was left by a crash (a save takes milliseconds).
const STALE_AFTER: Duration = Duration::from_secs(60);

/// Where a write to `path` lands: the final target of its symlinks, canonical
/// (absolute, no `.`, `..` or links). A file that does not exist yet, or that a
/// dangling link points to, resolves through its folder, which must exist.
pub(crate) fn canonical_target(path: &Path) -> io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::canonicalize(&p) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            other => return other,
        }
        let folder = crate::config::folder_of(&p).to_path_buf();
        // Missing: a link to a file not written yet (followed by hand), or the file itself.
        if fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
            p = folder.join(fs::read_link(&p)?);
            continue;
        }
        let Some(name) = p.file_name() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the path names no file",
            ));
        };
        return Ok(fs::canonicalize(&folder)?.join(name));
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

/// Gives the temp file that will replace a file the old file's mode if it is
/// 0600 or stricter (else 0600), and, when this process is root, its owner and
/// group: a root gateway must not turn a user's login into one the user's own
/// Codex CLI cannot read. A new file keeps the 0600 it was created with.
pub(super) fn take_over(tmp: &File, old: Option<&fs::Metadata>) -> io::Result<()> {
    let Some(old) = old else {
        return Ok(());
    };
    let mode = old.mode() & 0o777;
    let mode = if mode & !0o600 == 0 { mode } else { 0o600 };
    tmp.set_permissions(fs::Permissions::from_mode(mode))?;
    let ours = tmp.metadata()?;
    if ours.uid() == 0 && (ours.uid(), ours.gid()) != (old.uid(), old.gid()) {
        // Best effort: refusing the save (a root-squashed NFS mount says EPERM)
        // would lose a rotated refresh token, which is worse than a new owner.
        if let Err(e) = std::os::unix::fs::fchown(tmp, Some(old.uid()), Some(old.gid())) {
            tracing::warn!(uid = old.uid(), gid = old.gid(), error = %e, "cannot give the rewritten file its old owner");
        }
    }
    Ok(())
}

/// Removes what a crash between writing and renaming left beside `name` in
/// `dir`: files named exactly `.<name>.tmp-<32 hex digits>`, older than a
/// minute (a younger one may be another process's save under way). Best effort.
pub(super) fn remove_stale_temps(dir: &Path, name: &str) {
    let prefix = format!(".{name}.tmp-");
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(id) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        if id.len() != 32 || !id.bytes().all(hex) {
            continue;
        }
        // Of the entry itself, not of what a link there points to.
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        let stale = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age > STALE_AFTER);
        if meta.is_file() && stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::time::{Duration, SystemTime};

    use super::super::*;

    fn private(path: &Path, text: &str) {
        fs::write(path, text).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_symlinked_file_stays_a_link_and_its_target_gets_the_new_content() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("real")).unwrap();
        let real = dir.path().join("real/a.json");
        private(&real, "{\"old\":true}\n");
        let link = dir.path().join("a.json");
        std::os::unix::fs::symlink("real/a.json", &link).unwrap();

        write_atomic(&link, b"{\"new\":true}\n").unwrap();

        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_to_string(&real).unwrap(), "{\"new\":true}\n");
        assert_eq!(
            names(dir.path()),
            ["a.json", "real"],
            "nothing left beside the link"
        );
        assert_eq!(
            names(&dir.path().join("real")),
            ["a.json"],
            "no temp file left"
        );
    }

    #[test]
    fn a_dangling_link_gets_its_target_created() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("real")).unwrap();
        let link = dir.path().join("a.json");
        std::os::unix::fs::symlink(dir.path().join("real/a.json"), &link).unwrap();

        write_atomic(&link, b"{}\n").unwrap();

        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(
            fs::read_to_string(dir.path().join("real/a.json")).unwrap(),
            "{}\n"
        );
    }

    #[test]
    fn the_owner_and_group_stay_when_root_rewrites_a_users_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("auth.json");
        private(&p, "{}\n");
        if std::os::unix::fs::chown(&p, Some(1234), Some(4321)).is_err() {
            eprintln!("not root: cannot set up a file of another owner; skipped");
            return;
        }
        write_atomic(&p, b"{\"new\":true}\n").unwrap();
        let meta = fs::metadata(&p).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (1234, 4321));
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn a_stricter_mode_stays_and_a_looser_one_becomes_0600() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("auth.json");
        for (before, after) in [(0o400, 0o400), (0o600, 0o600), (0o644, 0o600)] {
            fs::write(&p, "{}\n").unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(before)).unwrap();
            write_atomic(&p, b"{}\n").unwrap();
            let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, after, "from {before:04o}");
        }
    }

    #[test]
    fn stale_temp_files_of_this_file_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("auth.json");
        private(&p, "{}\n");
        let hex = "0123456789abcdef0123456789abcdef";
        let old = SystemTime::now() - Duration::from_secs(120);
        let stale = format!(".auth.json.tmp-{hex}");
        let keep = [
            format!(".other.json.tmp-{hex}"),         // another file's
            format!(".auth.json.tmp-{}", &hex[..31]), // not the pattern
            format!(".auth.json.tmp-{hex}.bak"),
            "notes.txt".to_string(),
        ];
        for name in keep.iter().chain([&stale]) {
            let f = fs::File::create(dir.path().join(name)).unwrap();
            f.set_modified(old).unwrap();
        }
        let fresh = format!(".auth.json.tmp-{}", "f".repeat(32));
        fs::File::create(dir.path().join(&fresh)).unwrap();

        save(&p, &AuthFile::default()).unwrap();

        let mut want: Vec<String> = keep.to_vec();
        want.extend(["auth.json".to_string(), fresh]);
        want.sort();
        assert_eq!(names(dir.path()), want);
    }
}
