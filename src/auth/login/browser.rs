//! The browser flow: PKCE, a one-shot callback server on 127.0.0.1, the code exchange.
//!
//! The server answers `/auth/callback` once: it checks `state` first (a
//! callback with another state gets a 400 and the wait goes on, so a stale tab
//! or a forged `?error=` cannot end the login), exchanges the code, tells the
//! browser how it went, and hands the result to `browser_login`; the answer to
//! the browser is let out before the server closes.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use super::{authorize_url, exchange_code, new_state, LoginOptions, Pkce, Prompt, Tokens};
use crate::secret::Secret;

/// The browser flow: serve the callback, prompt, wait for the code, exchange it.
pub async fn browser_login(opts: &LoginOptions) -> Result<Tokens, String> {
    let (listener, port) = bind_callback(&opts.ports).await?;
    let redirect_uri = format!("http://localhost:{port}/auth/callback");
    let pkce = Pkce::new()?;
    let state = new_state()?;
    let url = authorize_url(&opts.issuer, &redirect_uri, &pkce.challenge, &state);
    (opts.prompt)(&Prompt::Browser {
        url: url.clone(),
        redirect_uri: redirect_uri.clone(),
    });
    let mut browser = if opts.open_browser {
        open_browser(&url)
    } else {
        None
    };
    let (tx, rx) = oneshot::channel();
    let callback = Arc::new(Callback {
        state,
        verifier: pkce.verifier,
        redirect_uri,
        issuer: opts.issuer.clone(),
        http: opts.http.clone(),
        done: Mutex::new(Some(tx)),
    });
    let result = serve_callback(listener, callback, rx, opts.timeout).await;
    if let Some(child) = browser.as_mut() {
        let _ = child.try_wait();
    }
    result
}

async fn bind_callback(ports: &[u16]) -> Result<(TcpListener, u16), String> {
    let mut last = String::from("no callback port to try");
    for &port in ports {
        match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(l) => {
                let bound = l.local_addr().map(|a| a.port()).unwrap_or(port);
                return Ok((l, bound));
            }
            Err(e) => {
                last = format!("cannot listen on 127.0.0.1:{port} for the login callback: {e}")
            }
        }
    }
    Err(last)
}

/// Starts `xdg-open`/`open` when a browser seems reachable; failure is ignored.
fn open_browser(url: &str) -> Option<std::process::Child> {
    let mac = cfg!(target_os = "macos");
    let display = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()));
    if !mac && !display {
        return None;
    }
    std::process::Command::new(if mac { "open" } else { "xdg-open" })
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()
}

/// The one login the callback server is waiting for.
struct Callback {
    state: String,
    verifier: Secret<String>,
    redirect_uri: String,
    issuer: String,
    http: reqwest::Client,
    done: Mutex<Option<oneshot::Sender<Result<Tokens, String>>>>,
}

/// Serves the callback until it settles the login or `timeout` passes; lets the
/// answer to the browser go out before closing.
async fn serve_callback(
    listener: TcpListener,
    callback: Arc<Callback>,
    rx: oneshot::Receiver<Result<Tokens, String>>,
    timeout: Duration,
) -> Result<Tokens, String> {
    let graceful = GracefulShutdown::new();
    let mut conns = JoinSet::new();
    let accept = async {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let cb = Arc::clone(&callback);
            let svc = service_fn(move |req| {
                let cb = Arc::clone(&cb);
                async move { Ok::<_, Infallible>(cb.handle(req).await) }
            });
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
            conns.spawn(graceful.watch(conn));
        }
    };
    let result = tokio::select! {
        r = rx => r.unwrap_or_else(|_| Err("the login callback server stopped".into())),
        () = accept => Err("the login callback server stopped".into()),
        () = tokio::time::sleep(timeout) => Err(format!(
            "no login came back within {}; run the command again",
            humantime::format_duration(timeout)
        )),
    };
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
    conns.shutdown().await;
    result
}

impl Callback {
    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        if req.uri().path() != "/auth/callback" {
            return page(
                StatusCode::NOT_FOUND,
                "Not found",
                "This is the codex-pool login callback.",
            );
        }
        let query = req.uri().query().unwrap_or("");
        let params: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        // Only the callback of this login may end it: anything else (a stale
        // tab, a forged `?error=`, a guess) is refused and the wait goes on.
        if !self.state_matches(params.get("state")) {
            return page(
                StatusCode::BAD_REQUEST,
                "Not this login",
                "This callback does not belong to the login under way (its state does not match); it was ignored.",
            );
        }
        let Some(done) = self.done.lock().ok().and_then(|mut d| d.take()) else {
            return page(
                StatusCode::CONFLICT,
                "Already done",
                "This login is already finished; you can close this tab.",
            );
        };
        let result = self.finish(&params).await;
        let answer = match &result {
            Ok(_) => page(
                StatusCode::OK,
                "Signed in",
                "codex-pool has the login. You can close this tab.",
            ),
            Err(e) => page(StatusCode::BAD_REQUEST, "Login failed", e),
        };
        let _ = done.send(result);
        answer
    }

    /// Whether `state` is this login's, compared in constant time.
    fn state_matches(&self, state: Option<&String>) -> bool {
        state.is_some_and(|s| bool::from(s.as_bytes().ct_eq(self.state.as_bytes())))
    }

    /// Settles the login from a callback whose `state` matched.
    async fn finish(&self, params: &HashMap<String, String>) -> Result<Tokens, String> {
        if let Some(error) = params.get("error") {
            let description = params
                .get("error_description")
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            return Err(format!(
                "the issuer refused the login ({error}{description})"
            ));
        }
        let Some(code) = params.get("code").filter(|c| !c.is_empty()) else {
            return Err("the login callback carries no code".into());
        };
        exchange_code(
            &self.http,
            &self.issuer,
            code,
            &self.redirect_uri,
            self.verifier.expose(),
        )
        .await
    }
}

fn page(status: StatusCode, title: &str, message: &str) -> Response<Full<Bytes>> {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>codex-pool: {t}</title></head>\
         <body><h1>{t}</h1><p>{m}</p></body></html>",
        t = escape(title),
        m = escape(message)
    );
    let mut resp = Response::new(Full::new(Bytes::from(html)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
