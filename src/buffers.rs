//! Large byte buffers kept for the next request.
//!
//! A request of a megabyte needs a buffer of about that size twice: its body
//! joined from the frames it came in (`server::request`), and the upstream
//! body it is translated into (`translate::Input`). Allocated fresh each
//! time, glibc gives a freed buffer of that size back to the system between
//! requests, and the next request page-faults every page of it in again
//! (about 500 faults for a 1 MB chat request, half its CPU time; BENCHMARKS.md,
//! "large requests"). A few buffers are kept here and reused instead:
//! at most `KEPT` of them, none larger than `LARGEST`, so what stays resident
//! after a burst of large requests is bounded (32 MiB).

use std::sync::Mutex;

use bytes::Bytes;

use crate::sync::lock;

/// Below this, malloc reuses freed memory well enough.
const SMALLEST: usize = 64 << 10;
/// A larger buffer is freed, not kept.
const LARGEST: usize = 8 << 20;
/// How many buffers are kept.
const KEPT: usize = 4;

static POOL: Pool = Pool::new();

/// An empty buffer with room for `n` bytes: a kept one when one is large
/// enough (the smallest such), else a new one.
pub(crate) fn with_capacity(n: usize) -> Vec<u8> {
    POOL.take(n)
}

/// `buf` as `Bytes`; a large one goes back to be kept when the last
/// reference to it is dropped.
pub(crate) fn freeze(buf: Vec<u8>) -> Bytes {
    POOL.freeze(buf)
}

struct Pool {
    kept: Mutex<Vec<Vec<u8>>>,
}

impl Pool {
    const fn new() -> Pool {
        Pool {
            kept: Mutex::new(Vec::new()),
        }
    }

    fn take(&self, n: usize) -> Vec<u8> {
        if (SMALLEST..=LARGEST).contains(&n) {
            let mut kept = lock(&self.kept);
            let fits = kept
                .iter()
                .enumerate()
                .filter(|(_, b)| b.capacity() >= n)
                .min_by_key(|(_, b)| b.capacity())
                .map(|(i, _)| i);
            if let Some(i) = fits {
                let mut buf = kept.swap_remove(i);
                buf.clear();
                return buf;
            }
        }
        Vec::with_capacity(n)
    }

    fn freeze(&'static self, buf: Vec<u8>) -> Bytes {
        if (SMALLEST..=LARGEST).contains(&buf.capacity()) {
            Bytes::from_owner(Kept { buf, pool: self })
        } else {
            Bytes::from(buf)
        }
    }

    /// Keeps `buf` if it is of a size worth keeping and there is room.
    fn give_back(&self, buf: Vec<u8>) {
        if !(SMALLEST..=LARGEST).contains(&buf.capacity()) {
            return;
        }
        let mut kept = lock(&self.kept);
        if kept.len() < KEPT {
            kept.push(buf);
        } else if let Some(smallest) = kept.iter_mut().min_by_key(|b| b.capacity()) {
            // A full pool keeps the larger buffers: they are the costly ones.
            if smallest.capacity() < buf.capacity() {
                *smallest = buf;
            }
        }
    }
}

/// A kept buffer while `Bytes` refer to it.
struct Kept {
    buf: Vec<u8>,
    pool: &'static Pool,
}

impl AsRef<[u8]> for Kept {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_buffer_is_reused_once_its_bytes_are_dropped_and_others_are_not_kept() {
        static POOL: Pool = Pool::new();
        let n = SMALLEST * 3;
        let mut buf = POOL.take(n);
        buf.extend_from_slice(b"first");
        let ptr = buf.as_ptr();
        let bytes = POOL.freeze(buf);
        let slice = bytes.slice(1..3);
        drop(bytes);
        assert!(
            lock(&POOL.kept).is_empty(),
            "a slice keeps the buffer in use"
        );
        assert_eq!(&slice[..], b"ir");
        drop(slice);
        let again = POOL.take(n);
        assert_eq!(again.as_ptr(), ptr, "the same buffer came back");
        assert!(again.is_empty() && again.capacity() >= n);

        drop(POOL.freeze(Vec::with_capacity(100)));
        drop(POOL.freeze(POOL.take(LARGEST + 1)));
        assert!(lock(&POOL.kept).is_empty(), "too small or too large: freed");

        for k in 0..KEPT + 2 {
            drop(POOL.freeze(POOL.take(SMALLEST + k * 1024)));
            drop(POOL.take(1)); // not from the pool
        }
        let kept = lock(&POOL.kept);
        assert_eq!(kept.len(), KEPT);
        assert!(
            kept.iter().all(|b| b.capacity() >= SMALLEST + 2 * 1024),
            "a full pool keeps the larger buffers"
        );
    }
}
