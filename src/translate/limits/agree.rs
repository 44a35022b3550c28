//! The byte scanner (`scan`) against the walk with serde_json's tokenizer
//! (`walk`), whose verdict is a tree parse's: for every input, the same
//! refusal (field and message) or the same clean/unclean bit.

use super::scan::scan;
use super::walk::walk;
use super::*;

fn verdict(bytes: &[u8], shape: &Shape) -> Result<bool, Invalid> {
    let checked = scan(bytes, shape)?;
    assert_eq!(
        checked.text,
        std::str::from_utf8(bytes).ok(),
        "the text is the body when it is UTF-8"
    );
    Ok(checked.clean)
}

fn agree(bytes: &[u8]) {
    for shape in [&CHAT, &RESPONSES, &MESSAGES] {
        let want = walk(bytes, shape);
        let got = verdict(bytes, shape);
        assert_eq!(
            got,
            want,
            "{:?} on {:?}",
            shape.items,
            String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
        );
    }
}

/// Inputs where a scanner could read differently from a parse.
const TRICKY: &[&[u8]] = &[
    b"",
    b"   ",
    b"{}",
    b"[]",
    b"{} trailing",
    b"\xEF\xBB\xBF{}",
    b"7",
    b"7x",
    b"-",
    b"-x",
    b"-0",
    b"01",
    b"[01]",
    b"[-01]",
    b"[0.]",
    b"[.5]",
    b"[1.5e]",
    b"[1e+]",
    b"[1E-7]",
    b"[1e400]",
    b"[-1e400]",
    b"[0e99999999999]",
    b"[1e-400]",
    b"[1.7976931348623157e308]",
    b"[1.7976931348623159e308]",
    b"[123456789012345678901234567890]",
    b"[18446744073709551615, 18446744073709551616, -9223372036854775809]",
    b"[true, false, null]",
    b"[tru]",
    b"[nul",
    b"[nulll]",
    b"[1,]",
    b"[,1]",
    b"[1 2]",
    b"{\"a\":1,}",
    b"{\"a\" 1}",
    b"{\"a\":}",
    b"{a:1}",
    b"{\"a\":1 \"b\":2}",
    b"{\"a\":1}}",
    b"[\"\\u0000\\u001f\\u00e9\\uFFFF\"]",
    b"[\"\\uD83D\\uDE00\"]",
    b"[\"\\ud83d\\ude00\"]",
    b"[\"\\uD800\"]",
    b"[\"\\uD800x\"]",
    b"[\"\\uD800\\n\"]",
    b"[\"\\uD800\\uD800\\uDC00\"]",
    b"[\"\\uDC00\"]",
    b"[\"\\uDBFF\\uDFFF\"]",
    b"[\"\\u12\"]",
    b"[\"\\u12G4\"]",
    b"[\"\\uD800\\u12\"]",
    b"[\"\\x\"]",
    b"[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]",
    b"[\"\\",
    b"[\"\\u",
    b"[\"tab\there\"]",
    b"[\"nl\nhere\"]",
    b"[\"\x7f\"]",
    b"[\"caf\xc3\xa9\"]",
    b"[\"caf\xc3\"]",
    b"[\"\xc3\\u00a9\"]",
    b"[\"\\u00e9\xa9\"]",
    b"[\"\xed\xa0\x80\"]",
    b"[\"\xf4\x90\x80\x80\"]",
    b"[\"\xff\"]",
    b"[\"ok\", \xff]",
    b"[\"ok\"] \xff",
    b"[\"unterminated",
    b"{\"messages\":[{\"content\":[1,2]}],\"tools\":[{}]}",
    b"{\"m\\u0065ssages\":[{\"cont\\u0065nt\":[1]}]}",
    b"{\"messages\":[[{\"content\":[1]}]]}",
    b"{\"\\uD800\":1}",
    b"{\"\xff\":1}",
    b" \t\r\n{ \"a\" : [ 1 , { } , [ ] ] } ",
];

#[test]
fn tricky_inputs_get_the_walks_verdict() {
    for input in TRICKY {
        agree(input);
    }
}

#[test]
fn nesting_stops_where_a_parse_stops() {
    for depth in [126, 127, 128, 129] {
        for (open, close) in [("[", "]"), ("{\"k\":", "}")] {
            let body = format!("{}1{}", open.repeat(depth), close.repeat(depth));
            agree(body.as_bytes());
            let empty = format!("{}[]{}", open.repeat(depth - 1), close.repeat(depth - 1));
            agree(empty.as_bytes());
        }
    }
}

/// Bodies one value short of a limit, ended by a value that is counted
/// only if it parses whole.
#[test]
fn a_limit_and_a_broken_value_meet_as_in_a_parse() {
    let last: [&[u8]; 16] = [
        b"0",
        b"01",
        b"-",
        b"1e400",
        b"1.5",
        b"\"ok\"",
        b"\"\\uD800\"",
        b"\"\xff\"",
        b"nul",
        b"null",
        b"[]",
        b"{}",
        b"[01]",
        b"{\"a\":1,}",
        b"0x",
        b"\"a\"x",
    ];
    let tools = vec!["{}"; MAX_TOOLS].join(",");
    let items = vec!["0"; MAX_ITEMS].join(",");
    let objects = vec!["{}"; MAX_OBJECTS - 1].join(",");
    for tail in last {
        let body = |parts: &[&[u8]]| agree(&parts.concat());
        body(&[b"{\"tools\":[", tools.as_bytes(), b",", tail, b"]}"]);
        body(&[b"{\"tools\":[", tools.as_bytes(), b",", tail]);
        body(&[b"{\"x\":[", objects.as_bytes(), b",", tail, b"]}"]);
        let items = [items.as_bytes(), b",", tail].concat();
        body(&[b"{\"messages\":[", &items, b"],\"input\":[", &items, b"]}"]);
    }
}

#[test]
fn parts_counted_across_items_as_in_a_parse() {
    let parts = vec!["{}"; MAX_PARTS_PER_ITEM].join(",");
    for tail in ["", ",{}", ",01", ",\"\\uDC00\""] {
        let item = format!(r#"{{"content":[{parts}{tail}],"tool_calls":[1]}}"#);
        let ten = [item.as_str(); 10].join(",");
        agree(format!(r#"{{"messages":[{ten},{{"content":[{{}}]}}]}}"#).as_bytes());
        agree(format!(r#"{{"input":[{item}]}}"#).as_bytes());
    }
}

/// A small conversation holding every kind of value, the seed of the
/// mutations below.
const SAMPLE: &[u8] = br#"{"model":"m","stream":true,"temperature":0.7,"max_tokens":1024,
"messages":[{"role":"system","content":"be \"brief\"\n\ttabs \u00e9 caf\u00e9 \ud83d\ude00 \/ ok"},
{"role":"user","content":[{"type":"text","text":"caf\u00e9 \\ x"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]},
{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"shell","arguments":"{\"command\":[\"ls\",\"-l\"]}"}}]},
{"role":"tool","tool_call_id":"c1","content":"total 8\n-rw-r--r-- 1 u u 12 a.rs\n"}],
"input":[{"type":"message","content":[{"type":"input_text","text":"hi"}]},{"type":"reasoning","encrypted_content":"gAAAAB"}],
"tools":[{"type":"function","function":{"name":"shell","parameters":{"type":"object","properties":{"n":{"type":"number","minimum":-1.5e3}},"required":["n"]}}}],
"metadata":{"k":[1,-0,2.5E+2,18446744073709551616,false,null,{}]}}"#;

/// What a mutation inserts or writes over a byte: JSON's own bytes, and
/// the ones a scanner could get wrong.
const PIECES: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"\\u",
    b"\\uD800",
    b"\\uDC00",
    b"\\uD83D\\uDE00",
    b"\\x",
    b"u",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"0",
    b"1",
    b"01",
    b"-",
    b".",
    b"e",
    b"E+",
    b"1e400",
    b" ",
    b"\n",
    b"\t",
    b"\x00",
    b"\x1f",
    b"\x7f",
    b"\xc3",
    b"\xa9",
    b"\xc3\xa9",
    b"\xed\xa0\x80",
    b"\xff",
    b"null",
    b"tru",
    b"{}",
    b"[]",
    b"\"\"",
];

/// A fixed xorshift: the same mutations on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn mutate(body: &mut Vec<u8>, rng: &mut Rng) {
    let at = rng.below(body.len() + 1);
    match rng.below(5) {
        0 if at < body.len() => {
            body.remove(at);
        }
        1 => {
            let piece = PIECES[rng.below(PIECES.len())];
            body.splice(at..at, piece.iter().copied());
        }
        2 if at < body.len() => {
            let piece = PIECES[rng.below(PIECES.len())];
            let end = (at + piece.len()).min(body.len());
            body.splice(at..end, piece.iter().copied());
        }
        3 => body.truncate(at),
        _ => {
            // A copy of a slice of the body elsewhere in it.
            let from = rng.below(body.len() + 1);
            let to = (from + rng.below(40)).min(body.len());
            let slice = body[from..to].to_vec();
            body.splice(at..at, slice);
        }
    }
}

#[test]
fn mutations_of_a_conversation_get_the_walks_verdict() {
    agree(SAMPLE);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut clean, mut unclean) = (0, 0);
    for _ in 0..6_000 {
        let mut body = SAMPLE.to_vec();
        for _ in 0..=rng.below(3) {
            mutate(&mut body, &mut rng);
        }
        agree(&body);
        match walk(&body, &CHAT) {
            Ok(true) => clean += 1,
            _ => unclean += 1,
        }
    }
    // The mutations reach both verdicts often.
    assert!(
        clean > 500 && unclean > 2_000,
        "{clean} clean, {unclean} not"
    );
}
