//! A child process of the real binary with its output in a log file: its
//! listening address read back from the log (`codex-pool listening on
//! http://ADDR`, so it can listen on port 0), signals, and an end that waits.
//! Every wait fails with the log.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

pub use rustix::process::Signal;
use rustix::process::{kill_process, Pid};

/// What the binary logs once it listens.
const LISTENING: &str = "codex-pool listening on http://";

pub struct Process {
    child: Child,
    log: PathBuf,
}

impl Process {
    /// Runs `cmd` with stdout and stderr into `log`, uncoloured, at log level
    /// info unless `cmd` says otherwise about `RUST_LOG`.
    pub fn spawn(mut cmd: Command, log: PathBuf) -> Process {
        let file = std::fs::File::create(&log).unwrap();
        if !cmd.get_envs().any(|(k, _)| k == "RUST_LOG") {
            cmd.env("RUST_LOG", "info");
        }
        cmd.env("NO_COLOR", "1")
            .stdout(file.try_clone().unwrap())
            .stderr(file);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
        Process { child, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The first log line containing `needle`, once it is there; panics with
    /// the log when the process ends first or after 20 s.
    pub async fn wait_log(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let log = self.log();
            if let Some(line) = log.lines().find(|l| l.contains(needle)) {
                return line.to_string();
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("exited ({status}) before logging {needle:?}:\n{log}");
            }
            if Instant::now() >= deadline {
                panic!("no {needle:?} in the log after 20 s:\n{log}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The address after `prefix` (`…http://`) in the log.
    pub async fn logged_addr(&mut self, prefix: &str) -> SocketAddr {
        let line = self.wait_log(prefix).await;
        let rest = &line[line.find(prefix).unwrap() + prefix.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_hexdigit() || ".:[]".contains(c)))
            .unwrap_or(rest.len());
        rest[..end]
            .parse()
            .unwrap_or_else(|e| panic!("{e}: no address in {line:?}"))
    }

    /// Where the gateway listens, from its log.
    pub async fn listening(&mut self) -> SocketAddr {
        self.logged_addr(LISTENING).await
    }

    pub fn signal(&self, signal: Signal) {
        kill_process(Pid::from_child(&self.child), signal)
            .unwrap_or_else(|e| panic!("kill {signal:?} {}: {e}", self.pid()));
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Its exit status, waiting up to `within`; panics with the log after.
    pub async fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() >= deadline {
                panic!("still running after {within:?}:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGTERM (the graceful end), then SIGKILL after `within`.
    pub async fn stop(&mut self, within: Duration) {
        if self.is_running() {
            self.signal(Signal::TERM);
        }
        let deadline = Instant::now() + within;
        while self.is_running() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        let _ = kill_process(Pid::from_child(&self.child), Signal::TERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
