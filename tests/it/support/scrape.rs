//! Reading the Prometheus text exposition: one series by name and exact
//! label set, the metric names the tests check, and the checks several
//! subjects share (attempts, account states, token counts, request codes).

use serde_json::Value;

use super::Gateway;

pub const REQUESTS: &str = "codex_pool_requests_total";
pub const ATTEMPTS: &str = "codex_pool_upstream_attempts_total";
pub const FAILOVERS: &str = "codex_pool_failovers_total";
pub const TOKENS: &str = "codex_pool_tokens_total";
pub const STATE: &str = "codex_pool_account_state";
pub const COOLDOWN: &str = "codex_pool_account_cooldown_until_timestamp_seconds";
pub const EXPIRY: &str = "codex_pool_account_token_expiry_timestamp_seconds";
pub const INFLIGHT: &str = "codex_pool_inflight_requests";
pub const REFRESHES: &str = "codex_pool_token_refreshes_total";
pub const RELOADS: &str = "codex_pool_config_reloads_total";
pub const STORE_UP: &str = "codex_pool_store_up";

/// The labels of a request answered 2xx `ok` on `route`.
pub fn ok_on(route: &str) -> [(&str, &str); 3] {
    [("route", route), ("status_class", "2xx"), ("code", "ok")]
}

/// A metric's value in a Prometheus text scrape, by name and exact label set.
pub fn metric(scrape: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape.lines().find_map(|line| {
        if line.starts_with('#') {
            return None;
        }
        let (series, value) = line.rsplit_once(' ')?;
        let (n, rest) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        if n != name {
            return None;
        }
        let mut got: Vec<(String, String)> = rest
            .split("\",")
            .filter(|s| !s.is_empty())
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                Some((k.to_string(), v.trim_matches('"').to_string()))
            })
            .collect();
        got.sort();
        let mut want: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        want.sort();
        (got == want).then(|| value.parse().ok()).flatten()
    })
}

/// The value of one series; panics with the scrape when it is missing.
pub fn value(scrape: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    metric(scrape, name, labels)
        .unwrap_or_else(|| panic!("no {name}{labels:?} in the scrape:\n{scrape}"))
}

/// Whether any series of `name` exists.
pub fn has_series(scrape: &str, name: &str) -> bool {
    scrape.lines().any(|l| {
        l.strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
    })
}

/// Upstream attempts of `account` with `outcome` (0 when absent).
pub fn attempts(s: &str, account: &str, outcome: &str) -> f64 {
    metric(s, ATTEMPTS, &[("account", account), ("outcome", outcome)]).unwrap_or(0.0)
}

/// `account`'s state gauges: 1 for `want`, 0 for every other state.
pub fn state_is(s: &str, account: &str, want: &str) {
    for st in ["ready", "cooling", "disabled", "needs_relogin"] {
        let v = value(s, STATE, &[("account", account), ("state", st)]);
        assert_eq!(
            v,
            f64::from(u8::from(st == want)),
            "{account} state {st}:\n{s}"
        );
    }
}

/// requests_total for the status and code the client actually saw.
pub fn assert_counted_as_seen(s: &str, route: &str, status: u16, body: &str) {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let code = v["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error.code in {body}"));
    let class = format!("{}xx", status / 100);
    assert_eq!(
        metric(
            s,
            REQUESTS,
            &[("route", route), ("status_class", &class), ("code", code)]
        ),
        Some(1.0),
        "{route} {class} {code}:\n{s}"
    );
}

/// The mock's usage (input 21 with 5 cached, output 9 with 3 reasoning),
/// `times` over, counted for this account, key and model.
pub fn assert_tokens(s: &str, account: &str, api_key: &str, model: &str, times: f64) {
    for (kind, n) in [
        ("input", 16.0),
        ("cached_input", 5.0),
        ("output", 6.0),
        ("reasoning", 3.0),
    ] {
        let labels = [
            ("account", account),
            ("api_key", api_key),
            ("model", model),
            ("kind", kind),
        ];
        assert_eq!(value(s, TOKENS, &labels), n * times, "{kind}");
    }
}

pub fn near(got: f64, want: f64, slack: f64) -> bool {
    (got - want).abs() <= slack
}

impl Gateway {
    /// `GET /metrics`, which must answer 200.
    pub async fn scrape(&self) -> String {
        let (status, body) = self.get("/metrics", &[]).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Scrapes until `ready` holds (some outcomes are recorded after the
    /// client is done); panics naming `what`, with the last scrape, after 10 s.
    pub async fn scrape_until(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let s = self.scrape().await;
            if ready(&s) {
                return s;
            }
            if std::time::Instant::now() >= deadline {
                panic!("{what} never showed in the scrape:\n{s}");
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Waits until the gateway's store is up (`[store]` on a live Redis).
    pub async fn store_up(&self) {
        self.scrape_until("the store up", |s| {
            metric(s, STORE_UP, &[("backend", "redis")]) == Some(1.0)
        })
        .await;
    }
}
