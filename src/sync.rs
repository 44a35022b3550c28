//! Locking that survives a panic elsewhere.
//!
//! The std mutexes here guard plain data (counters, small maps, the last
//! error) that stays consistent even if a holder panicked, so a poisoned lock
//! is taken as it is rather than spreading the panic to every later caller.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, ignoring poisoning.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
