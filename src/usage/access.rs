//! The access log: one JSON line per finished request, to a file (rotated by
//! size: `PATH` → `PATH.1` → … → `PATH.N`) or to standard output. Blocking
//! I/O: called from the writer's blocking section only.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::Record;
use crate::config::AccessLogConfig;

pub(super) struct AccessLog {
    config: AccessLogConfig,
    file: Option<File>,
    size: u64,
}

impl AccessLog {
    pub(super) fn new(config: AccessLogConfig) -> AccessLog {
        AccessLog {
            config,
            file: None,
            size: 0,
        }
    }

    /// Writes one line per record; the whole batch in one write.
    pub(super) fn write(&mut self, records: &[std::sync::Arc<Record>]) -> io::Result<()> {
        let mut buf = Vec::with_capacity(records.len() * 400);
        for r in records {
            serde_json::to_writer(&mut buf, &**r).map_err(io::Error::other)?;
            buf.push(b'\n');
        }
        let Some(path) = self.config.path.clone() else {
            let mut out = io::stdout().lock();
            out.write_all(&buf)?;
            return out.flush();
        };
        if self.file.is_none() {
            self.open(&path)?;
        }
        if self.size > 0 && self.size + buf.len() as u64 > self.config.max_bytes {
            self.file = None;
            rotate(&path, self.config.keep)?;
            self.open(&path)?;
        }
        let Some(f) = self.file.as_mut() else {
            return Err(io::Error::other("access log not open"));
        };
        match f.write_all(&buf) {
            Ok(()) => {
                self.size += buf.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Reopened next time (the file may have been moved away).
                self.file = None;
                Err(e)
            }
        }
    }

    fn open(&mut self, path: &Path) -> io::Result<()> {
        let f = OpenOptions::new().create(true).append(true).open(path)?;
        self.size = f.metadata()?.len();
        self.file = Some(f);
        Ok(())
    }
}

fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// `PATH.(keep-1)` → `PATH.keep`, …, `PATH` → `PATH.1`; with `keep` 0 the
/// full file is removed.
fn rotate(path: &Path, keep: u32) -> io::Result<()> {
    if keep == 0 {
        return std::fs::remove_file(path);
    }
    for n in (1..keep).rev() {
        let from = numbered(path, n);
        if from.exists() {
            std::fs::rename(&from, numbered(path, n + 1))?;
        }
    }
    std::fs::rename(path, numbered(path, 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn rotates_by_size_and_keeps_n_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        let mut log = AccessLog::new(AccessLogConfig {
            path: Some(path.clone()),
            max_bytes: 600,
            keep: 2,
        });
        let r = Arc::new(Record {
            request_id: "r".into(),
            route: "chat",
            code: "ok",
            status: 200,
            ..Record::default()
        });
        for _ in 0..12 {
            log.write(std::slice::from_ref(&r)).unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.len() <= 600, "{}", text.len());
        let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(line["route"], "chat");
        assert!(numbered(&path, 1).exists() && numbered(&path, 2).exists());
        assert!(!numbered(&path, 3).exists());
    }
}
