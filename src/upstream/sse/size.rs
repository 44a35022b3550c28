//! The size of the event being received, counted on the raw bytes before the
//! SSE parser buffers them, so one event (a `data:` line that never ends, say)
//! cannot grow without bound.
//!
//! Only the last blank line of each chunk matters (the bytes after it belong
//! to the next event), so a chunk is read from its end, and a chunk that ends
//! an event (the usual case) costs a couple of byte reads. An event that ends
//! inside a chunk is therefore bounded by the limit plus that chunk, which is
//! already in memory.

/// One event grew past the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("upstream sent an event larger than {limit} bytes")]
pub(super) struct TooLarge {
    pub limit: usize,
}

#[derive(Debug)]
pub(super) struct EventSize {
    limit: usize,
    /// Bytes since the last blank line.
    pending: usize,
    /// The two bytes before the next chunk (`0` before the stream's start).
    tail: [u8; 2],
}

impl EventSize {
    pub(super) fn new(limit: usize) -> EventSize {
        EventSize {
            limit,
            pending: 0,
            tail: [0; 2],
        }
    }

    /// Counts one chunk of the stream; `Err` once the event in progress is
    /// larger than the limit.
    pub(super) fn feed(&mut self, chunk: &[u8]) -> Result<(), TooLarge> {
        self.pending = match last_boundary(chunk, self.tail) {
            Some(end) => chunk.len() - end,
            None => self.pending.saturating_add(chunk.len()),
        };
        self.tail = match chunk {
            [] => self.tail,
            [only] => [self.tail[1], *only],
            [.., a, b] => [*a, *b],
        };
        if self.pending > self.limit {
            return Err(TooLarge { limit: self.limit });
        }
        Ok(())
    }
}

fn is_eol(b: u8) -> bool {
    b == b'\n' || b == b'\r'
}

/// The index just past the last blank line in `chunk`, whose two preceding
/// stream bytes are `tail`. A blank line is a line end (CR, LF or CRLF) right
/// after another one.
fn last_boundary(chunk: &[u8], tail: [u8; 2]) -> Option<usize> {
    // The byte `back` places before `pos`, reaching into `tail`.
    let before = |pos: usize, back: usize| -> u8 {
        match pos.checked_sub(back) {
            Some(i) => chunk.get(i).copied(),
            None => tail.get(2 + pos - back).copied(),
        }
        .unwrap_or(0)
    };
    let mut end = chunk.len();
    while let Some(p) = chunk
        .get(..end)
        .and_then(|s| s.iter().rposition(|b| is_eol(*b)))
    {
        // Where the line end at `p` starts: one byte earlier for a CRLF.
        let crlf = chunk.get(p) == Some(&b'\n') && before(p, 1) == b'\r';
        let start_back = usize::from(crlf);
        if is_eol(before(p, start_back + 1)) {
            return Some(p + 1);
        }
        end = p;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference: bytes since the last blank line, one byte at a time.
    fn pending_bytewise(stream: &[u8]) -> usize {
        let (mut pending, mut line_start, mut after_cr, mut blank_cr) = (0, false, false, false);
        for &b in stream {
            pending += 1;
            match b {
                // The LF of a CRLF: part of the line end the CR began.
                b'\n' if after_cr => {
                    after_cr = false;
                    if blank_cr {
                        pending = 0;
                    }
                }
                b'\n' | b'\r' => {
                    if line_start {
                        pending = 0;
                    }
                    blank_cr = line_start;
                    line_start = true;
                    after_cr = b == b'\r';
                }
                _ => (line_start, after_cr) = (false, false),
            }
        }
        pending
    }

    #[test]
    fn counts_bytes_since_the_last_blank_line_for_every_line_end_and_split() {
        let streams: [&[u8]; 6] = [
            b"data: a\n\ndata: bc",
            b"data: a\r\n\r\ndata: bc",
            b"data: a\r\rdata: bc",
            b"data: a\r\ndata: b\r\n",
            b"data: a\n\r\ndata: b\r\n\ndata: c",
            b": keep-alive\n\nevent: x\ndata: 1\ndata: 2\n\n",
        ];
        for stream in streams {
            let want = pending_bytewise(stream);
            for cut in 0..=stream.len() {
                for second in cut..=stream.len() {
                    let mut size = EventSize::new(usize::MAX);
                    for part in [&stream[..cut], &stream[cut..second], &stream[second..]] {
                        assert_eq!(size.feed(part), Ok(()));
                    }
                    assert_eq!(size.pending, want, "{stream:?} cut at {cut} and {second}");
                }
            }
        }
    }

    #[test]
    fn an_event_that_keeps_growing_fails_and_many_small_ones_do_not() {
        let mut size = EventSize::new(100);
        for _ in 0..1000 {
            assert_eq!(size.feed(b"data: {\"x\":1}\n\n"), Ok(()));
        }
        assert_eq!(size.feed(b"data: "), Ok(()));
        let grows = (0..20).map(|_| size.feed(&[b'x'; 10])).collect::<Vec<_>>();
        assert_eq!(
            grows.iter().position(Result::is_err),
            Some(9),
            "past 100 bytes"
        );
        assert_eq!(grows.last(), Some(&Err(TooLarge { limit: 100 })));
    }
}
