//! The event-stream decoder: upstream's bytes in, one event at a time out,
//! its `data` and `event` borrowed from the receive buffer.
//!
//! Lines are read as they complete (CR, LF or CRLF, a CRLF split across two
//! chunks included), the fields of the event in progress kept as places in
//! the buffer; a blank line ends the event. An event with one `data:` line
//! (every event upstream sends) is a slice of the buffer: nothing is copied
//! or allocated for it. Several `data:` lines are joined, with LF, in a
//! reused scratch buffer. Comments, `id`, `retry` and unknown fields are
//! skipped; a byte-order mark before the first line is dropped.
//! (<https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation>)

use std::cell::Cell;
use std::ops::Range;

/// The receive buffer's capacity kept between events; a larger one (left by
/// a large event) is given back once the buffer is empty, so a held stream
/// stays small.
const KEEP_CAPACITY: usize = 64 * 1024;

/// One event grew past the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("upstream sent an event larger than {limit} bytes")]
pub(super) struct TooLarge {
    pub limit: usize,
}

/// Where a finished event's fields are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Found {
    name: Option<Range<usize>>,
    data: Data,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
enum Data {
    #[default]
    None,
    /// One `data:` line, in the buffer.
    Line(Range<usize>),
    /// Several, joined in `joined`.
    Joined,
}

#[derive(Debug)]
pub(super) struct Decoder {
    buf: Vec<u8>,
    /// The bytes before it are consumed (events given out, or skipped).
    start: usize,
    /// Where the next line starts: the lines between `start` and it are the
    /// event in progress.
    line: usize,
    /// Where the search for that line's end resumes (a long line that came
    /// in pieces is scanned once).
    searched: usize,
    name: Option<Range<usize>>,
    data: Data,
    joined: Vec<u8>,
    /// The last line ended with a CR as the buffer's last byte: an LF first
    /// in what comes next is the rest of that line end.
    skip_lf: bool,
    first_line: bool,
    /// Whether the event in progress has a field (`data`, `event`, `id`,
    /// `retry`), and how many such blocks have ended.
    fields: bool,
    blocks: u64,
    /// An event's data or name was not UTF-8: the stream is over.
    failed: Cell<bool>,
    limit: usize,
}

impl Decoder {
    pub(super) fn new(limit: usize) -> Decoder {
        Decoder {
            buf: Vec::new(),
            start: 0,
            line: 0,
            searched: 0,
            name: None,
            data: Data::None,
            joined: Vec::new(),
            skip_lf: false,
            first_line: true,
            fields: false,
            blocks: 0,
            failed: Cell::new(false),
            limit,
        }
    }

    /// How many blocks with fields have ended (events with data or not).
    pub(super) fn blocks(&self) -> u64 {
        self.blocks
    }

    /// Whether a decoding error ended the stream.
    pub(super) fn failed(&self) -> bool {
        self.failed.get()
    }

    /// More bytes of the stream. What was consumed is dropped first (the
    /// event in progress moves to the buffer's start).
    pub(super) fn feed(&mut self, chunk: &[u8]) {
        if self.start == self.buf.len() {
            self.buf.clear();
            if self.buf.capacity() > KEEP_CAPACITY {
                self.buf = Vec::new();
            }
            self.line = 0;
            self.searched = 0;
            self.start = 0;
        } else if self.start > 0 {
            let by = self.start;
            self.buf.drain(..by);
            self.line -= by;
            self.searched -= by;
            self.start = 0;
            let back = |r: &mut Range<usize>| *r = r.start - by..r.end - by;
            if let Some(r) = self.name.as_mut() {
                back(r);
            }
            if let Data::Line(r) = &mut self.data {
                back(r);
            }
        }
        if self.joined.capacity() > KEEP_CAPACITY && self.data != Data::Joined {
            self.joined = Vec::new();
        }
        self.buf.extend_from_slice(chunk);
    }

    /// Bytes received of the event in progress; past the limit, an error.
    pub(super) fn check_size(&self) -> Result<(), TooLarge> {
        if self.buf.len() - self.start > self.limit {
            return Err(TooLarge { limit: self.limit });
        }
        Ok(())
    }

    /// The next complete event with data; `None` when more bytes are needed.
    pub(super) fn scan(&mut self) -> Option<Found> {
        loop {
            if self.skip_lf {
                let next = *self.buf.get(self.line)?;
                self.skip_lf = false;
                if next == b'\n' {
                    self.line += 1;
                }
            }
            let from = self.searched.max(self.line);
            let rest = self.buf.get(from..).unwrap_or_default();
            let Some(at) = memchr::memchr2(b'\n', b'\r', rest) else {
                self.searched = self.buf.len();
                return None;
            };
            let end = from + at;
            let mut next = end + 1;
            if self.buf.get(end) == Some(&b'\r') {
                match self.buf.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
            let mut begin = self.line;
            self.line = next;
            self.searched = next;
            if self.first_line {
                self.first_line = false;
                if self.buf.get(begin..end).is_some_and(|l| l.starts_with(BOM)) {
                    begin += BOM.len();
                }
            }
            if begin == end {
                // A blank line: the event is over.
                self.start = self.line;
                if std::mem::take(&mut self.fields) {
                    self.blocks += 1;
                }
                let name = self.name.take();
                match std::mem::take(&mut self.data) {
                    Data::None => continue,
                    data => return Some(Found { name, data }),
                }
            }
            self.field(begin, end);
        }
    }

    /// One non-blank line, `begin..end` in the buffer.
    fn field(&mut self, begin: usize, end: usize) {
        let line = self.buf.get(begin..end).unwrap_or_default();
        if line.first() == Some(&b':') {
            return;
        }
        let (name_len, mut value) = match line.iter().position(|b| *b == b':') {
            Some(colon) => (colon, begin + colon + 1),
            None => (line.len(), end),
        };
        if value < end && self.buf.get(value) == Some(&b' ') {
            value += 1;
        }
        match line.get(..name_len) {
            Some(b"data") => self.data_line(value..end),
            Some(b"event") => self.name = Some(value..end),
            Some(b"id" | b"retry") => {}
            _ => return,
        }
        self.fields = true;
    }

    fn data_line(&mut self, value: Range<usize>) {
        let bytes = |r: Range<usize>| self.buf.get(r).unwrap_or_default();
        match &self.data {
            Data::None => self.data = Data::Line(value),
            Data::Line(first) => {
                self.joined.clear();
                self.joined.extend_from_slice(bytes(first.clone()));
                self.joined.push(b'\n');
                self.joined.extend_from_slice(bytes(value));
                self.data = Data::Joined;
            }
            Data::Joined => {
                self.joined.push(b'\n');
                self.joined.extend_from_slice(bytes(value));
            }
        }
    }

    /// A found event's fields as text, valid until the next `feed`. Text
    /// that is not UTF-8 ends the stream (`failed`).
    pub(super) fn event(&self, found: Found) -> Result<(Option<&str>, &str), std::str::Utf8Error> {
        let failed = &self.failed;
        let text = |bytes| std::str::from_utf8(bytes).inspect_err(|_| failed.set(true));
        let data = match found.data {
            Data::Line(r) => self.buf.get(r).unwrap_or_default(),
            Data::Joined => &self.joined,
            Data::None => &[],
        };
        let name = match found.name {
            Some(r) => Some(text(self.buf.get(r).unwrap_or_default())?),
            None => None,
        };
        Ok((name, text(data)?))
    }

    /// Everything dropped: the stream is over.
    pub(super) fn clear(&mut self) {
        self.buf = Vec::new();
        self.joined = Vec::new();
        self.start = 0;
        self.line = 0;
        self.searched = 0;
        self.name = None;
        self.data = Data::None;
    }

    /// Bytes held (the receive and join buffers' capacity).
    #[cfg(test)]
    pub(super) fn held(&self) -> usize {
        self.buf.capacity() + self.joined.capacity()
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

#[cfg(test)]
mod tests;
