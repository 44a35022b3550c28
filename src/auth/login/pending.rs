//! Logins started from the console and still running: each one's state (the
//! code and link to show, done, failed), and the tasks that run them, owned
//! here and ended with the gateway.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use serde::Serialize;
use tokio::task::JoinSet;

/// Where a console login is.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LoginState {
    /// Asking the issuer for a code.
    Starting,
    /// Open `url` and enter `code`.
    Waiting {
        url: String,
        code: String,
    },
    /// The account is in the config and the pool.
    Done,
    Failed {
        error: String,
    },
}

#[derive(Default)]
pub struct Pending {
    states: Mutex<HashMap<String, LoginState>>,
    tasks: Mutex<JoinSet<()>>,
}

impl Pending {
    /// Starts `run` for `account` unless a login of it is running.
    pub fn start<F>(&self, account: &str, run: F) -> bool
    where
        F: Future<Output = ()> + Send + 'static,
    {
        {
            let mut s = self.states.lock().unwrap_or_else(|p| p.into_inner());
            let busy = matches!(
                s.get(account),
                Some(LoginState::Starting | LoginState::Waiting { .. })
            );
            if busy {
                return false;
            }
            s.insert(account.to_string(), LoginState::Starting);
        }
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        // Finished ones are reaped as new ones start.
        while tasks.try_join_next().is_some() {}
        tasks.spawn(run);
        true
    }

    pub fn set(&self, account: &str, state: LoginState) {
        let mut s = self.states.lock().unwrap_or_else(|p| p.into_inner());
        s.insert(account.to_string(), state);
    }

    pub fn all(&self) -> HashMap<String, LoginState> {
        self.states
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Ends every running login (the gateway is stopping).
    pub fn abort_all(&self) {
        self.tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .abort_all();
    }
}
