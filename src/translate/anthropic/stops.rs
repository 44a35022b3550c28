//! `stop_sequences`, applied by the gateway (the backend has no stop
//! parameter): one Aho-Corasick automaton over all of them, run over a
//! bounded tail of the text, so each streamed delta costs the delta plus at
//! most the longest sequence, whatever their number.
//!
//! The request's sequences are capped in number and length (a 400 past
//! either): the tail held back while a sequence may still be forming is at
//! most the longest one.

use aho_corasick::{AhoCorasick, MatchKind};

use crate::translate::Invalid;

/// At most this many stop sequences.
pub const MAX_COUNT: usize = 64;
/// Each at most this many bytes.
pub const MAX_LEN: usize = 1024;

/// The stop sequences of one request, compiled.
#[derive(Debug, Clone, Default)]
pub struct Stops {
    /// `None`: no sequences.
    automaton: Option<AhoCorasick>,
    patterns: Vec<String>,
    /// The bytes a sequence starts with: text from the last of these on
    /// (within the longest sequence's reach) may be the start of one.
    starts: Box<[bool]>,
    longest: usize,
}

/// Two are equal when they hold the same sequences (the automaton follows).
impl PartialEq for Stops {
    fn eq(&self, other: &Stops) -> bool {
        self.patterns == other.patterns
    }
}

impl Stops {
    /// Compiles `given` (empty strings dropped); a 400 past the caps.
    pub fn new(given: Vec<String>) -> Result<Stops, Invalid> {
        let patterns: Vec<String> = given.into_iter().filter(|s| !s.is_empty()).collect();
        if patterns.len() > MAX_COUNT {
            return Err(Invalid::field(
                "stop_sequences",
                format!(
                    "'stop_sequences' may hold at most {MAX_COUNT} sequences, not {}",
                    patterns.len()
                ),
            ));
        }
        if let Some(long) = patterns.iter().find(|s| s.len() > MAX_LEN) {
            return Err(Invalid::field(
                "stop_sequences",
                format!(
                    "each of 'stop_sequences' may be at most {MAX_LEN} bytes, not {}",
                    long.len()
                ),
            ));
        }
        Ok(Stops::compile(patterns))
    }

    fn compile(patterns: Vec<String>) -> Stops {
        if patterns.is_empty() {
            return Stops::default();
        }
        // Leftmost-longest: the sequence that starts first wins, and at one
        // start the longest (what a scan for each would find).
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
            .ok();
        let mut starts = vec![false; 256].into_boxed_slice();
        for p in &patterns {
            if let Some(&b) = p.as_bytes().first() {
                starts[usize::from(b)] = true;
            }
        }
        let longest = patterns.iter().map(String::len).max().unwrap_or(0);
        Stops {
            automaton,
            patterns,
            starts,
            longest,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.automaton.is_none()
    }

    /// Where the first stop sequence starts in `text`, and which one it is.
    pub fn find(&self, text: &str) -> Option<(usize, &str)> {
        let m = self.automaton.as_ref()?.find(text)?;
        let seq = self.patterns.get(m.pattern().as_usize())?;
        Some((m.start(), seq.as_str()))
    }

    /// How many bytes at the end of `text` (which holds no whole sequence)
    /// to hold back: from the first byte within the longest sequence's reach
    /// that some sequence starts with. Never splits a character: a sequence's
    /// first byte is never a UTF-8 continuation byte.
    pub fn held_back(&self, text: &str) -> usize {
        if self.is_empty() {
            return 0;
        }
        let bytes = text.as_bytes();
        let from = bytes.len().saturating_sub(self.longest.saturating_sub(1));
        bytes[from..]
            .iter()
            .position(|&b| self.starts[usize::from(b)])
            .map_or(0, |i| bytes.len() - (from + i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stops(s: &[&str]) -> Stops {
        Stops::new(s.iter().map(|s| s.to_string()).collect()).unwrap()
    }

    #[test]
    fn the_first_match_wins_and_the_longest_at_one_start() {
        let s = stops(&["END", "two END", "", "x"]);
        assert_eq!(s.find("one two END"), Some((4, "two END")));
        assert_eq!(s.find("a END x"), Some((2, "END")));
        assert_eq!(s.find("nothing"), None);
        assert!(stops(&[""]).is_empty());
    }

    #[test]
    fn only_what_may_begin_a_sequence_is_held_back() {
        let s = stops(&["STOP", "éh"]);
        assert_eq!(s.held_back("hello ST"), 2);
        assert_eq!(s.held_back("hello"), 0);
        assert_eq!(s.held_back("hello é"), "é".len());
        // Never more than the longest sequence less one byte.
        assert_eq!(s.held_back("SSSSSSSS"), 3);
    }

    #[test]
    fn too_many_or_too_long_sequences_are_refused() {
        let many = vec!["a".to_string(); MAX_COUNT + 1];
        let e = Stops::new(many).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("stop_sequences"));
        let long = vec!["a".repeat(MAX_LEN + 1)];
        assert!(Stops::new(long).is_err());
        assert!(Stops::new(vec!["a".repeat(MAX_LEN); MAX_COUNT]).is_ok());
    }
}
