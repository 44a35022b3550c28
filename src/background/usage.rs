//! The usage writer's loop: takes finished requests off the recorder's queue
//! in batches (what arrives within `LINGER` of the first), hands each batch
//! to the blocking `usage::Writer` (SQLite, access log), then adds its
//! rollups to the shared store when `[store]` is set. A failed write is counted, logged once (and
//! once more when it recovers) and retried with the next batch or tick.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::app::App;
use crate::usage::db::Db;
use crate::usage::writer::{fold, Writer};
use crate::usage::{Counts, Record, Slot};

/// Records taken per batch at most.
const BATCH: usize = 1024;

/// How often pending rollups are retried when no request arrives.
const RETRY: Duration = Duration::from_secs(5);

/// How long the writer gathers records after the first of a batch: the
/// requests of that while become one SQLite transaction (the rollups they
/// share, one row's upsert), one access-log write and one wake of the writer,
/// instead of one of each per request (BENCHMARKS.md, "Usage rollups"). A
/// stop, a full batch or a half-full queue (`Recorder::filling`) ends it.
const LINGER: Duration = Duration::from_millis(250);

/// Whether a sink is failing now, so its failure is logged once.
#[derive(Default)]
struct Failing {
    sqlite: bool,
    redis: bool,
    access_log: bool,
}

pub(crate) async fn usage_loop(app: Arc<App>, db: Option<Db>, mut stop: watch::Receiver<bool>) {
    let Some(mut rx) = app.usage.take_receiver() else {
        return;
    };
    let snap = app.snapshot();
    let config = &snap.config;
    let retention = config.usage.retention;
    let mut writer = Some(Writer::new(&config.usage, config.log.access.clone(), db));
    let mut shared: HashMap<Slot, Counts> = HashMap::new();
    let mut failing = Failing::default();
    let mut tick = tokio::time::interval(RETRY);
    loop {
        let mut batch: Vec<Arc<Record>> = Vec::new();
        let mut stopping = tokio::select! {
            r = rx.recv() => {
                batch.extend(r.map(Arc::new));
                false
            }
            _ = tick.tick() => false,
            _ = stop.changed() => true,
        };
        take(&mut rx, &mut batch, stopping);
        if !stopping && !batch.is_empty() && batch.len() < BATCH {
            stopping = tokio::select! {
                () = tokio::time::sleep(LINGER) => false,
                () = app.usage.filling() => false,
                _ = stop.changed() => true,
            };
            take(&mut rx, &mut batch, stopping);
        }
        app.usage.remember(&batch);
        if app.store.is_some() {
            fold(&mut shared, &batch);
        }
        let Some(mut w) = writer.take() else { return };
        let now = crate::clock::unix_now();
        let done = tokio::task::spawn_blocking(move || {
            let report = w.flush(&batch, now);
            (w, report)
        })
        .await;
        let Ok((w, report)) = done else {
            tracing::error!("the usage writer failed; usage is no longer recorded");
            return;
        };
        writer = Some(w);
        note(&app, "sqlite", report.sqlite, &mut failing.sqlite);
        note(
            &app,
            "access_log",
            report.access_log,
            &mut failing.access_log,
        );
        if let Some(store) = app.store.as_ref().filter(|_| !shared.is_empty()) {
            let e = store.add_usage(&shared, retention).await.err();
            if e.is_none() {
                shared.clear();
            }
            note(&app, "redis", e.map(|e| e.to_string()), &mut failing.redis);
        }
        if stopping {
            return;
        }
    }
}

/// Moves what the queue holds into `batch`: up to `BATCH` records, or all of
/// them when stopping (nothing is left behind at shutdown).
fn take(rx: &mut mpsc::Receiver<Record>, batch: &mut Vec<Arc<Record>>, all: bool) {
    while batch.len() < BATCH || all {
        match rx.try_recv() {
            Ok(r) => batch.push(Arc::new(r)),
            Err(_) => break,
        }
    }
}

/// Counts a failed write of `sink`; logs it when it starts failing and when
/// it works again.
fn note(app: &App, sink: &'static str, error: Option<String>, failing: &mut bool) {
    match error {
        Some(e) => {
            app.metrics.usage_write_failed(sink);
            if !*failing {
                tracing::warn!(sink, error = %e, "cannot write usage; retrying");
            }
            *failing = true;
        }
        None if *failing => {
            tracing::info!(sink, "usage writes work again");
            *failing = false;
        }
        None => {}
    }
}

/// Opens the usage database at start (when `[usage]` keeps one) and gives
/// each client key what it spent this hour and day before the restart.
/// A database that does not open is retried by the writer.
pub(crate) async fn open_usage(app: &App) -> Option<Db> {
    let snap = app.snapshot();
    let path = snap.config.usage.path.clone()?;
    let shown = path.display().to_string();
    let opened = tokio::task::spawn_blocking(move || {
        let db = Db::open(&path)?;
        let now = crate::clock::unix_now();
        let hour = db.spent_since(now - now.rem_euclid(3600))?;
        let day = db.spent_since(now - now.rem_euclid(86_400))?;
        Ok::<_, rusqlite::Error>((db, hour, day))
    })
    .await;
    match opened {
        Ok(Ok((db, hour, day))) => {
            for k in &snap.keys {
                let of = |m: &HashMap<String, u64>| m.get(k.name()).copied().unwrap_or(0);
                k.seed_spent(of(&hour), of(&day));
            }
            Some(db)
        }
        Ok(Err(e)) => {
            app.metrics.usage_write_failed("sqlite");
            tracing::warn!(path = %shown, error = %e, "cannot open the usage store; budgets start from zero, writes are retried");
            None
        }
        Err(_) => None,
    }
}
