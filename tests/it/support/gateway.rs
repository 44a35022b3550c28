//! The gateway under test: in process (`codex_pool::run_app` on a listener
//! of its own) or the real binary (`process.rs`), both on `127.0.0.1:0`, with
//! the HTTP helpers the tests call it through. Drop stops it; `stop().await`
//! lets in-flight work finish and waits.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use codex_pool::app::App;
use codex_pool::config::Config;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::builder::Builder;
use super::process::Process;
use super::{cli, client, Login, Mock};

enum Run {
    InProcess {
        stop: Option<oneshot::Sender<()>>,
        handle: Option<JoinHandle<()>>,
    },
    Binary(Process),
}

pub struct Gateway {
    // First, so that a process is stopped before its folder goes.
    run: Run,
    pub addr: SocketAddr,
    pub config_path: PathBuf,
    dir: Option<tempfile::TempDir>,
    admin: Option<String>,
    upstream: (String, String),
}

impl Builder {
    /// Starts the gateway in this process.
    pub async fn start(self) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        let config_path = self.write(dir.path(), None);
        let config = Config::load(&config_path)
            .unwrap_or_else(|e| panic!("{e}\n{}", std::fs::read_to_string(&config_path).unwrap()));
        let app = App::new(config).unwrap();
        let listener = TcpListener::bind(&self.bind).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(codex_pool::run_app(
            app,
            listener,
            None,
            Some(config_path.clone()),
            async move {
                let _ = rx.await;
            },
        ));
        let run = Run::InProcess {
            stop: Some(tx),
            handle: Some(handle),
        };
        Gateway::new(
            SocketAddr::from(([127, 0, 0, 1], port)),
            dir,
            config_path,
            &self,
            run,
        )
    }

    /// Starts the real binary, listening where `bind` says (port 0 unless
    /// said), its address read back from its log; waits until it is healthy.
    pub async fn spawn(self) -> Gateway {
        self.spawn_under(&[]).await
    }

    /// `spawn`, the binary run by `wrapper` (a command that execs its last
    /// argument, such as `prlimit --nofile=…`), so the pid stays the gateway's.
    pub async fn spawn_under(self, wrapper: &[&str]) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        let config_path = self.write(dir.path(), Some(&self.bind));
        let mut cmd = match wrapper.split_first() {
            Some((program, args)) => {
                let mut cmd = std::process::Command::new(program);
                cmd.args(args).arg(cli::binary());
                cmd
            }
            None => std::process::Command::new(cli::binary()),
        };
        cmd.args(["serve", "--config"]).arg(&config_path);
        let mut process = Process::spawn(cmd, dir.path().join("gateway.log"));
        let addr = process.listening().await;
        let gw = Gateway::new(addr, dir, config_path, &self, Run::Binary(process));
        gw.wait_healthy().await;
        gw
    }
}

impl Gateway {
    /// A gateway against `mock`, to describe and then `start` or `spawn`.
    pub fn builder(mock: &Mock) -> Builder {
        Builder::new(mock)
    }

    fn new(
        addr: SocketAddr,
        dir: tempfile::TempDir,
        config_path: PathBuf,
        b: &Builder,
        run: Run,
    ) -> Gateway {
        Gateway {
            addr,
            config_path,
            dir: Some(dir),
            admin: b.admin.clone(),
            upstream: (b.base_url.clone(), b.issuer.clone()),
            run,
        }
    }

    async fn wait_healthy(&self) {
        let healthy = || async {
            let r = client().get(self.url("/healthz")).send().await;
            r.is_ok_and(|r| r.status() == 200)
        };
        eventually!(
            healthy().await,
            "{} never healthy:\n{}",
            self.addr,
            self.log()
        );
    }

    /// The gateway's folder: its config, auth files and (binary) log.
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().unwrap().path()
    }

    /// The spawned gateway's process.
    pub fn process(&mut self) -> &mut Process {
        match &mut self.run {
            Run::Binary(p) => p,
            Run::InProcess { .. } => panic!("an in-process gateway has no process"),
        }
    }

    /// What the spawned gateway logged so far (empty in process).
    pub fn log(&self) -> String {
        match &self.run {
            Run::Binary(p) => p.log(),
            Run::InProcess { .. } => String::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn client(&self) -> reqwest::Client {
        client()
    }

    /// POSTs JSON and returns status, headers and body text.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, HeaderMap, String) {
        self.post_with(path, body, &[]).await
    }

    pub async fn post_with(
        &self,
        path: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> (u16, HeaderMap, String) {
        let mut req = self.json(client(), path, body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        answer(req.send().await.unwrap()).await
    }

    /// POSTs JSON with client key `key` as the bearer.
    pub async fn post_as(&self, key: &str, path: &str, body: &Value) -> (u16, HeaderMap, String) {
        let bearer = format!("Bearer {key}");
        self.post_with(path, body, &[("authorization", &bearer)])
            .await
    }

    /// POSTs JSON in a task of its own (a request under way while the test
    /// does something else); the task ends with the answer.
    pub fn post_later(&self, path: &str, body: &Value) -> JoinHandle<(u16, HeaderMap, String)> {
        let req = self.json(client(), path, body);
        tokio::spawn(async move { answer(req.send().await.unwrap()).await })
    }

    /// POSTs JSON and hands back the answer as it starts (to read a stream
    /// chunk by chunk, or drop it midway).
    pub async fn open(&self, path: &str, body: &Value) -> reqwest::Response {
        self.json(client(), path, body).send().await.unwrap()
    }

    fn json(&self, client: reqwest::Client, path: &str, body: &Value) -> reqwest::RequestBuilder {
        client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_string())
    }

    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let mut req = client().get(self.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    fn bearer(&self) -> String {
        let token = self
            .admin
            .as_deref()
            .expect("a gateway built with .admin(…)");
        format!("Bearer {token}")
    }

    /// GET with the admin token.
    pub async fn admin_get(&self, path: &str) -> (u16, String) {
        self.get(path, &[("authorization", &self.bearer())]).await
    }

    /// POST (no body) with the admin token.
    pub async fn admin_post(&self, path: &str) -> (u16, String) {
        let resp = client()
            .post(self.url(path))
            .header("authorization", self.bearer())
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    /// `/admin/accounts`.
    pub async fn accounts(&self) -> Vec<Value> {
        let (status, text) = self.admin_get("/admin/accounts").await;
        assert_eq!(status, 200, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        v["accounts"].as_array().unwrap().clone()
    }

    /// One entry of `/admin/accounts`.
    pub async fn account(&self, name: &str) -> Value {
        let all = self.accounts().await;
        all.iter()
            .find(|a| a["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no account {name} in {all:?}"))
    }

    /// `/admin/pool/activity`, newest first.
    pub async fn activity(&self) -> Vec<Value> {
        let (status, text) = self.admin_get("/admin/pool/activity").await;
        assert_eq!(status, 200, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        v["decisions"].as_array().unwrap().clone()
    }

    /// `POST /admin/reload`: status and body.
    pub async fn reload(&self) -> (u16, String) {
        self.admin_post("/admin/reload").await
    }

    /// Account `name`'s auth file (`<name>.json` in the folder).
    pub fn auth_path(&self, name: &str) -> PathBuf {
        self.dir().join(format!("{name}.json"))
    }

    /// Account `name`'s auth file, parsed.
    pub fn auth_json(&self, name: &str) -> Value {
        serde_json::from_slice(&std::fs::read(self.auth_path(name)).unwrap()).unwrap()
    }

    /// Writes a new login into account `name`'s auth file (another program
    /// logging in, or refreshing).
    pub fn write_login(&self, name: &str, login: Login) {
        login.write(&self.auth_path(name), name);
    }

    /// Replaces the config file with `text` (not reloaded: see `reload`).
    pub fn write_config(&self, text: &str) {
        std::fs::write(&self.config_path, text).unwrap();
    }

    /// Replaces the config file with the one `f` describes (same upstream;
    /// logins are not written again).
    pub fn reconfigure(&self, f: impl FnOnce(Builder) -> Builder) {
        let b = f(Builder::at(&self.upstream.0, &self.upstream.1));
        self.write_config(&b.config(None));
    }

    /// Lets in-flight work finish (shutdown grace) and waits for the end.
    pub async fn stop(self) {
        self.stop_keeping_dir().await;
    }

    /// `stop`, handing back the folder to look at afterwards.
    pub async fn stop_keeping_dir(mut self) -> tempfile::TempDir {
        match &mut self.run {
            Run::InProcess { stop, handle, .. } => {
                if let Some(tx) = stop.take() {
                    let _ = tx.send(());
                }
                if let Some(h) = handle.take() {
                    let _ = h.await;
                }
            }
            Run::Binary(p) => p.stop(Duration::from_secs(20)).await,
        }
        self.dir.take().unwrap()
    }
}

/// Status, headers and body text of an answer.
async fn answer(resp: reqwest::Response) -> (u16, HeaderMap, String) {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap())
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Run::InProcess { stop, .. } = &mut self.run {
            if let Some(tx) = stop.take() {
                let _ = tx.send(());
            }
        }
        // A process stops in its own Drop, before the folder goes.
    }
}
