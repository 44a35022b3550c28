//! The limits pass: one read of the body's bytes that counts its values
//! and checks their syntax as a parse into a tree would, decoding nothing.
//!
//! A string is skipped sixteen bytes at a time to its next quote, backslash
//! or control byte (`plain`); an escape is checked where it stands
//! (`\uD800` must be followed by a `\uDC00`–`\uDFFF`, a `\uDC00` may not
//! come first); UTF-8 is validated once for the whole body, and the string
//! holding its first invalid byte fails, as the decoding of that string
//! would. A number is checked for its form, and one that could pass the
//! range of an `f64` (a fraction, an exponent, more than 18 digits) is read
//! by serde_json itself. Nesting stops at serde_json's depth (128 levels
//! refused).
//!
//! The counts (`Counts`) are taken where the tree parse takes them, so a
//! body that is both over a limit and broken gets the verdict it got from
//! the walk with serde_json's tokenizer (`walk.rs`, kept for the tests).

use std::borrow::Cow;

use super::{At, Checked, Counts, Invalid, Shape};

/// Open arrays and objects a parse allows: serde_json refuses the 128th.
const MAX_DEPTH: usize = 127;

pub(super) fn scan<'a>(bytes: &'a [u8], shape: &Shape) -> Result<Checked<'a>, Invalid> {
    let (text, valid_to) = match std::str::from_utf8(bytes) {
        Ok(text) => (Some(text), bytes.len()),
        Err(e) => (None, e.valid_up_to()),
    };
    let mut scan = Scan {
        bytes,
        valid_to,
        counts: Counts::new(shape),
        stack: Vec::new(),
    };
    let clean = match scan.run() {
        Ok(()) => true,
        Err(Stop::Unclean) => false,
        Err(Stop::Refused(e)) => return Err(e),
    };
    Ok(Checked { clean, text })
}

/// Why the pass stopped before the end of the root value.
enum Stop {
    /// A parse of the bytes fails here.
    Unclean,
    /// A limit is passed here.
    Refused(Invalid),
}

impl From<Invalid> for Stop {
    fn from(e: Invalid) -> Stop {
        Stop::Refused(e)
    }
}

/// An array or object open around the value being read.
#[derive(Clone, Copy)]
struct Frame {
    at: At,
    object: bool,
    /// Entries read whole so far (arrays).
    n: usize,
}

struct Scan<'a, 's> {
    bytes: &'a [u8],
    /// The first byte that is not UTF-8 (the length when all are).
    valid_to: usize,
    counts: Counts<'s>,
    stack: Vec<Frame>,
}

impl Scan<'_, '_> {
    /// Reads the root value, stopping there (trailing bytes are the
    /// parse's to refuse).
    fn run(&mut self) -> Result<(), Stop> {
        let b = self.bytes;
        let mut i = 0;
        let mut at = At::Root;
        loop {
            // A value starts at `i`, after whitespace.
            i = whitespace(b, i);
            let c = *b.get(i).ok_or(Stop::Unclean)?;
            match c {
                b'"' => i = self.string(i + 1)?.0,
                b'-' | b'0'..=b'9' => i = number(b, i).ok_or(Stop::Unclean)?,
                b't' => i = literal(b, i, b"true")?,
                b'f' => i = literal(b, i, b"false")?,
                b'n' => i = literal(b, i, b"null")?,
                b'[' | b'{' => {
                    if self.stack.len() >= MAX_DEPTH {
                        return Err(Stop::Unclean);
                    }
                    self.counts.value()?;
                    let object = c == b'{';
                    if object {
                        self.counts.object()?;
                    }
                    i = whitespace(b, i + 1);
                    let close = if object { b'}' } else { b']' };
                    if b.get(i) == Some(&close) {
                        i += 1;
                    } else {
                        self.stack.push(Frame { at, object, n: 0 });
                        (i, at) = if object {
                            self.key(i, at)?
                        } else {
                            (i, at.element(0))
                        };
                        continue;
                    }
                }
                _ => return Err(Stop::Unclean),
            }
            if !matches!(c, b'[' | b'{') {
                self.counts.value()?;
            }
            // A value ended at `i`: close what it ends, up to the next value.
            (i, at) = match self.next(i)? {
                Some(next) => next,
                None => return Ok(()),
            };
        }
    }

    /// After a value ending at `i`: where the next one starts and what it
    /// is, closing the arrays and objects that end first; `None` once the
    /// root value is read.
    fn next(&mut self, mut i: usize) -> Result<Option<(usize, At)>, Stop> {
        let b = self.bytes;
        loop {
            let Some(top) = self.stack.last_mut() else {
                return Ok(None);
            };
            if !top.object {
                top.n += 1;
            }
            let top = *top;
            if !top.object {
                self.counts.entry(top.at, top.n)?;
            }
            i = whitespace(b, i);
            match (b.get(i), top.object) {
                (Some(b','), false) => return Ok(Some((i + 1, top.at.element(top.n)))),
                (Some(b','), true) => {
                    let start = whitespace(b, i + 1);
                    return self.key(start, top.at).map(Some);
                }
                (Some(b']'), false) | (Some(b'}'), true) => {
                    i += 1;
                    self.stack.pop();
                }
                _ => return Err(Stop::Unclean),
            }
        }
    }

    /// Reads the key at `i` and its colon, in the object at `at`: where its
    /// value starts and what that value is.
    fn key(&mut self, i: usize, at: At) -> Result<(usize, At), Stop> {
        let b = self.bytes;
        if b.get(i) != Some(&b'"') {
            return Err(Stop::Unclean);
        }
        let (end, escaped) = self.string(i + 1)?;
        let child = if Counts::reads_keys(at) {
            let key = key_text(&b[i..end], escaped).ok_or(Stop::Unclean)?;
            self.counts.child(at, &key)
        } else {
            At::Other
        };
        let colon = whitespace(b, end);
        if b.get(colon) != Some(&b':') {
            return Err(Stop::Unclean);
        }
        Ok((colon + 1, child))
    }

    /// Reads the string whose text starts at `start`: the index after its
    /// closing quote, and whether it holds an escape.
    fn string(&self, start: usize) -> Result<(usize, bool), Stop> {
        let b = self.bytes;
        let mut i = start;
        let mut escaped = false;
        loop {
            i = plain(b, i);
            match b.get(i) {
                Some(b'"') => break,
                Some(b'\\') => {
                    i = match b.get(i + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i + 2,
                        Some(b'u') => unicode(b, i + 2).ok_or(Stop::Unclean)?,
                        _ => return Err(Stop::Unclean),
                    };
                    escaped = true;
                }
                // A control byte, or the end.
                _ => return Err(Stop::Unclean),
            }
        }
        // The string holding the body's first byte that is not UTF-8 fails
        // to decode; every string before it decodes (escapes are ASCII).
        if (start..i).contains(&self.valid_to) {
            return Err(Stop::Unclean);
        }
        Ok((i + 1, escaped))
    }
}

/// A key's text: `literal` is the key with its quotes, already checked.
fn key_text(literal: &[u8], escaped: bool) -> Option<Cow<'_, str>> {
    if escaped {
        return serde_json::from_slice::<String>(literal)
            .ok()
            .map(Cow::Owned);
    }
    let inner = literal.get(1..literal.len().saturating_sub(1))?;
    std::str::from_utf8(inner).ok().map(Cow::Borrowed)
}

fn whitespace(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\t' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

fn literal(b: &[u8], i: usize, word: &[u8]) -> Result<usize, Stop> {
    match b.get(i..i + word.len()) {
        Some(w) if w == word => Ok(i + word.len()),
        _ => Err(Stop::Unclean),
    }
}

/// The index of the first quote, backslash or control byte from `i` on (the
/// length when there is none), sixteen bytes at a time, then eight.
#[inline]
fn plain(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES << 7;
    // A byte's high bit is set in `marks` where that byte is below 0x20, a
    // quote or a backslash (each test is Mycroft's zero-byte test; borrows
    // only ever mark bytes after a true one, so the lowest mark is the first
    // such byte; `!v` stands for each `!x`, as the three bytes sought have
    // their high bit clear).
    let marks = |word: &[u8; 8]| {
        let v = u64::from_le_bytes(*word);
        let control = v.wrapping_sub(ONES * 0x20);
        let quote = (v ^ (ONES * u64::from(b'"'))).wrapping_sub(ONES);
        let backslash = (v ^ (ONES * u64::from(b'\\'))).wrapping_sub(ONES);
        (control | quote | backslash) & !v & HIGH
    };
    // Two words a turn: 11-13% fewer instructions than one on the bench's
    // bodies (an escape every ~26 bytes); four cost more than two.
    while let Some(pair) = b.get(i..).and_then(<[u8]>::first_chunk::<16>) {
        let (lo, hi) = pair.split_at(8);
        let lo = marks(lo.first_chunk::<8>().unwrap_or(&[0; 8]));
        let hi = marks(hi.first_chunk::<8>().unwrap_or(&[0; 8]));
        if lo | hi != 0 {
            let at = if lo != 0 {
                lo.trailing_zeros() / 8
            } else {
                8 + hi.trailing_zeros() / 8
            };
            return i + at as usize;
        }
        i += 16;
    }
    if let Some(word) = b.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let m = marks(word);
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

/// Checks the `\u` escape whose hex digits start at `i`: the index after
/// it, or `None` where decoding it fails (a surrogate not in a pair).
fn unicode(b: &[u8], i: usize) -> Option<usize> {
    let after = i + 4;
    match hex4(b, i)? {
        0xDC00..=0xDFFF => None,
        0xD800..=0xDBFF => {
            if b.get(after..after + 2)? != b"\\u" {
                return None;
            }
            let low = hex4(b, after + 2)?;
            (0xDC00..=0xDFFF).contains(&low).then_some(after + 6)
        }
        _ => Some(after),
    }
}

fn hex4(b: &[u8], i: usize) -> Option<u16> {
    let mut n = 0u16;
    for &c in b.get(i..i + 4)? {
        n = n << 4 | char::from(c).to_digit(16)? as u16;
    }
    Some(n)
}

/// Checks the number at `start`: the index after it, or `None` where a
/// parse fails (its form, or an `f64` out of range).
fn number(b: &[u8], start: usize) -> Option<usize> {
    let digits = |mut i: usize| {
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let int = start + usize::from(b.get(start) == Some(&b'-'));
    let mut i = match b.get(int)? {
        b'0' if b.get(int + 1).is_some_and(u8::is_ascii_digit) => return None,
        b'0' => int + 1,
        b'1'..=b'9' => digits(int + 1),
        _ => return None,
    };
    // Up to 18 digits fit a `u64`; past that serde_json reads an `f64`.
    let mut exact = i - int <= 18;
    if b.get(i) == Some(&b'.') {
        let end = digits(i + 1);
        if end == i + 1 {
            return None;
        }
        (i, exact) = (end, false);
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let end = digits(i);
        if end == i {
            return None;
        }
        (i, exact) = (end, false);
    }
    if !exact {
        serde_json::from_slice::<f64>(&b[start..i]).ok()?;
    }
    Some(i)
}
