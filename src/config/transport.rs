//! `[upstream]`'s transport choices: how WebSocket clients' turns reach
//! upstream, and HTTP conversations carried on kept upstream sockets.

use std::time::Duration;

use serde::Deserialize;

/// `[upstream] bridge_*`: HTTP conversations on kept upstream sockets
/// (docs/websocket.md, "HTTP conversations on upstream sockets").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bridge {
    /// `bridge_http`.
    pub enabled: bool,
    pub per_account: usize,
    pub max_sockets: usize,
    /// A kept socket no turn used for this long is closed.
    pub idle_timeout: Duration,
}

/// `[upstream] websocket`: how a WebSocket client's turns reach upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamWebSocket {
    /// An upstream WebSocket; HTTP once upstream refuses the upgrade (426/404).
    Auto,
    /// Always an upstream WebSocket; a refused upgrade fails the turn.
    Always,
    /// Always HTTP upstream, each turn rebuilt as a full request.
    Never,
}

impl Default for Bridge {
    /// Off; 16 sockets an account, 256 in all, closed after 5 idle minutes.
    fn default() -> Bridge {
        Bridge {
            enabled: false,
            per_account: 16,
            max_sockets: 256,
            idle_timeout: Duration::from_secs(5 * 60),
        }
    }
}
