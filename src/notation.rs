//! A text notation for encoded keys: a decoder (bytes → typed parts) and a
//! parser of the same text, so keys can be shown to and typed by people.
//!
//! # Grammar
//!
//! ```text
//! key     = ws ( "(" ws [ part ws { "," ws part ws } [ "," ws ] ] ")" | part ) ws
//! part    = string | integer | bool | bytes | raw
//! string  = '"' { char | escape } '"'           (a length-prefixed string part)
//! escape  = '\"' | '\\' | '\n' | '\r' | '\t' | '\0' | '\u{' hex{1,6} '}'
//! integer = [ "-" ] digit+ [ suffix ]
//! suffix  = "i64" | "i32" | "i16" | "i8"       (signed: 8 bytes, sign bit flipped)
//!         | "u64" | "u32" | "u16"              (unsigned: 8 bytes big-endian)
//!         | "u8"                               (one byte)
//! bool    = "true" | "false"                    (one byte, 0 or 1)
//! bytes   = "0x" { hex hex }                    (a length-prefixed byte string part)
//! raw     = "raw:0x" { hex hex }                (bytes appended verbatim)
//! ws      = { " " | "\t" | "\n" | "\r" }
//! ```
//!
//! An integer without a suffix is signed (`i64`), the type of timestamps; a
//! value outside the suffix's range is an error. Hex digits may be upper or
//! lower case. `()` is the empty key.
//!
//! # Decoding
//!
//! The encoding does not record the parts' types, so [`decode_key`] chooses
//! the most plausible reading; whatever it chooses, encoding the parts gives
//! back exactly the bytes (`encode(decode(b)) == b`, tested on every
//! upstream vector). The rules:
//!
//! - it reads the whole key as a sequence of strings (valid UTF-8 without
//!   control characters), byte strings (`0x…`), signed integers whose value
//!   lies in ±2^62 and unsigned integers below 2^48, and among the readings
//!   that cover the whole key takes the one with the fewest and most
//!   specific parts (cost: string 1, integer 2, byte string 2, empty
//!   string 3; ties go to the earlier kind in that list);
//! - if no such reading exists, it keeps the longest such prefix that
//!   starts with a string and shows the rest as one `raw:0x…` part; failing
//!   that, the whole key is `raw:0x…`;
//! - `u8` and `bool` parts cannot be told from raw bytes, so they are shown
//!   raw; `i32`/`u16`/… are shown as `i64`/`u64` (same bytes).
//!
//! ```
//! use persistency::{decode_key, format_key, parse_key, Key};
//!
//! let key = Key::new().push_str("/waku/2/default")?.push_i64(1_700_000_000_000)?
//!     .push_bytes(&[0x1a, 0x2b])?.to_vec();
//! let text = format_key(&key);
//! assert_eq!(text, r#"("/waku/2/default", 1700000000000, 0x1a2b)"#);
//! assert_eq!(parse_key(&text)?, key);
//! assert_eq!(decode_key(&key).len(), 3);
//! # Ok::<(), persistency::Error>(())
//! ```

use std::fmt::{self, Write as _};

use crate::error::{Error, Result};
use crate::keys::KeyPart;

/// One part of a key as the notation shows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Part {
    /// A length-prefixed UTF-8 string: `"text"`.
    Str(String),
    /// A length-prefixed byte string: `0x1a2b`.
    Bytes(Vec<u8>),
    /// A signed integer of any width (8 bytes): `-5`, `1700000000000`.
    I64(i64),
    /// An unsigned integer of 16 to 64 bits (8 bytes): `5u64`.
    U64(u64),
    /// One byte: `7u8`.
    U8(u8),
    /// One byte, 0 or 1: `true`, `false`.
    Bool(bool),
    /// Bytes appended verbatim: `raw:0x01ff`.
    Raw(Vec<u8>),
}

impl KeyPart for Part {
    fn encode_into(&self, out: &mut Vec<u8>) -> Result<()> {
        match self {
            Part::Str(s) => s.encode_into(out),
            Part::Bytes(b) => b.encode_into(out),
            Part::I64(v) => v.encode_into(out),
            Part::U64(v) => v.encode_into(out),
            Part::U8(v) => v.encode_into(out),
            Part::Bool(v) => v.encode_into(out),
            Part::Raw(b) => {
                out.extend_from_slice(b);
                Ok(())
            }
        }
    }
}

fn write_hex(f: &mut impl fmt::Write, bytes: &[u8]) -> fmt::Result {
    bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::Str(s) => {
                f.write_char('"')?;
                for c in s.chars() {
                    match c {
                        '"' => f.write_str("\\\"")?,
                        '\\' => f.write_str("\\\\")?,
                        '\n' => f.write_str("\\n")?,
                        '\r' => f.write_str("\\r")?,
                        '\t' => f.write_str("\\t")?,
                        '\0' => f.write_str("\\0")?,
                        c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32)?,
                        c => f.write_char(c)?,
                    }
                }
                f.write_char('"')
            }
            Part::Bytes(b) => {
                f.write_str("0x")?;
                write_hex(f, b)
            }
            Part::I64(v) => write!(f, "{v}"),
            Part::U64(v) => write!(f, "{v}u64"),
            Part::U8(v) => write!(f, "{v}u8"),
            Part::Bool(v) => write!(f, "{v}"),
            Part::Raw(b) => {
                f.write_str("raw:0x")?;
                write_hex(f, b)
            }
        }
    }
}

/// Writes parts in the notation: `(p1, p2, …)`, `()` for none.
pub fn format_parts(parts: &[Part]) -> String {
    let mut out = String::from("(");
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        // Writing into a String cannot fail.
        let _ = write!(out, "{part}");
    }
    out.push(')');
    out
}

/// Decodes and writes an encoded key in the notation (see the module docs).
pub fn format_key(key: &[u8]) -> String {
    format_parts(&decode_key(key))
}

/// Encodes parts into key bytes.
pub fn encode_parts(parts: &[Part]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for part in parts {
        part.encode_into(&mut out)?;
    }
    Ok(out)
}

/// The bound on signed integers the decoder accepts (see the module docs).
const PLAUSIBLE: u64 = 1 << 62;
/// The bound on unsigned integers the decoder accepts: lower than the
/// signed one because eight bytes of short text and a small count read as
/// large unsigned numbers.
const PLAUSIBLE_UNSIGNED: u64 = 1 << 48;

/// The typed parts that can start at the front of `rest`, with their
/// lengths and costs, in tie-break order.
fn candidates(rest: &[u8]) -> Vec<(Part, usize, u32)> {
    let mut found = Vec::new();
    if rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        if let Some(body) = rest.get(2..2 + len) {
            match std::str::from_utf8(body) {
                Ok(s) if !s.chars().any(char::is_control) => {
                    let cost = if s.is_empty() { 3 } else { 1 };
                    found.push((Part::Str(s.to_string()), 2 + len, cost));
                }
                _ => found.push((Part::Bytes(body.to_vec()), 2 + len, 2)),
            }
        }
    }
    if let Some(eight) = rest.get(..8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(eight);
        let u = u64::from_be_bytes(word);
        let signed = (u ^ 0x8000_0000_0000_0000) as i64;
        if signed.unsigned_abs() < PLAUSIBLE {
            found.push((Part::I64(signed), 8, 2));
        } else if u < PLAUSIBLE_UNSIGNED {
            found.push((Part::U64(u), 8, 2));
        }
    }
    found
}

/// The cheapest typed readings of every prefix of `key`: `best[i]` is the
/// cost and the last part of the cheapest reading of `key[..i]`.
fn readings(key: &[u8]) -> Vec<Option<(u32, usize, Part)>> {
    let mut best: Vec<Option<(u32, usize, Part)>> = vec![None; key.len() + 1];
    best[0] = Some((0, 0, Part::Raw(Vec::new())));
    for at in 0..key.len() {
        let Some((cost, _, _)) = best[at] else {
            continue;
        };
        for (part, len, part_cost) in candidates(&key[at..]) {
            let total = cost + part_cost;
            let end = at + len;
            if best[end].as_ref().is_none_or(|(c, _, _)| total < *c) {
                best[end] = Some((total, at, part));
            }
        }
    }
    best
}

fn walk_back(best: &[Option<(u32, usize, Part)>], mut end: usize) -> Vec<Part> {
    let mut parts = Vec::new();
    while end > 0 {
        let Some((_, start, part)) = &best[end] else {
            break;
        };
        parts.push(part.clone());
        end = *start;
    }
    parts.reverse();
    parts
}

/// Decodes key bytes into typed parts where they read as the
/// order-preserving encoding, raw bytes otherwise (rules in the module
/// docs). Encoding the result gives back `key` exactly.
pub fn decode_key(key: &[u8]) -> Vec<Part> {
    if key.is_empty() {
        return Vec::new();
    }
    let best = readings(key);
    if best[key.len()].is_some() {
        return walk_back(&best, key.len());
    }
    let typed_prefix = (1..key.len()).rev().find_map(|end| {
        let parts = walk_back(&best, end);
        matches!(parts.first(), Some(Part::Str(_))).then_some((end, parts))
    });
    match typed_prefix {
        Some((end, mut parts)) => {
            parts.push(Part::Raw(key[end..].to_vec()));
            parts
        }
        None => vec![Part::Raw(key.to_vec())],
    }
}

/// Parses a key written in the notation (grammar in the module docs) into
/// its parts.
pub fn parse_parts(text: &str) -> Result<Vec<Part>> {
    let mut p = Parser { text, at: 0 };
    p.skip_ws();
    let parts = if p.eat("(") {
        let mut parts = Vec::new();
        p.skip_ws();
        while !p.eat(")") {
            parts.push(p.part()?);
            p.skip_ws();
            if !p.eat(",") {
                p.skip_ws();
                if !p.eat(")") {
                    return Err(p.error("expected `,` or `)`"));
                }
                break;
            }
            p.skip_ws();
        }
        parts
    } else {
        vec![p.part()?]
    };
    p.skip_ws();
    if p.at != text.len() {
        return Err(p.error("unexpected text after the key"));
    }
    Ok(parts)
}

/// Parses a key written in the notation and encodes it.
///
/// ```
/// let key = persistency::parse_key(r#"("topic", 7u64, true)"#)?;
/// assert_eq!(key, persistency::encode_key(&("topic", 7u64, true))?);
/// # Ok::<(), persistency::Error>(())
/// ```
pub fn parse_key(text: &str) -> Result<Vec<u8>> {
    encode_parts(&parse_parts(text)?)
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.at..]
    }

    fn error(&self, what: &str) -> Error {
        let near: String = self.rest().chars().take(16).collect();
        let near = if near.is_empty() {
            "at the end".to_string()
        } else {
            format!("near `{near}`")
        };
        Error::invalid(format!(
            "bad key notation at byte {} ({near}): {what}; write a key like \
             (\"topic\", 1700000000000, 0x1a2b) — strings in quotes, integers with an \
             optional i64/u64/u8 suffix, true/false, 0x… byte strings, raw:0x… raw bytes",
            self.at
        ))
    }

    fn eat(&mut self, token: &str) -> bool {
        let found = self.rest().starts_with(token);
        if found {
            self.at += token.len();
        }
        found
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start_matches([' ', '\t', '\n', '\r']);
        self.at = self.text.len() - trimmed.len();
    }

    fn part(&mut self) -> Result<Part> {
        if self.eat("\"") {
            return self.string();
        }
        if self.eat("raw:0x") {
            return Ok(Part::Raw(self.hex()?));
        }
        if self.eat("0x") {
            return Ok(Part::Bytes(self.hex()?));
        }
        if self.eat("true") {
            return Ok(Part::Bool(true));
        }
        if self.eat("false") {
            return Ok(Part::Bool(false));
        }
        if self
            .rest()
            .starts_with(|c: char| c == '-' || c.is_ascii_digit())
        {
            return self.integer();
        }
        Err(self.error("expected a key part"))
    }

    fn string(&mut self) -> Result<Part> {
        let mut out = String::new();
        loop {
            let Some(c) = self.rest().chars().next() else {
                return Err(self.error("unterminated string"));
            };
            self.at += c.len_utf8();
            match c {
                '"' => return Ok(Part::Str(out)),
                '\\' => {
                    let escape = self.rest().chars().next();
                    self.at += escape.map_or(0, char::len_utf8);
                    out.push(match escape {
                        Some('"') => '"',
                        Some('\\') => '\\',
                        Some('n') => '\n',
                        Some('r') => '\r',
                        Some('t') => '\t',
                        Some('0') => '\0',
                        Some('u') => self.unicode_escape()?,
                        _ => return Err(self.error("unknown escape in string")),
                    });
                }
                c => out.push(c),
            }
        }
    }

    fn unicode_escape(&mut self) -> Result<char> {
        if !self.eat("{") {
            return Err(self.error("expected `{` after \\u"));
        }
        let digits: String = self
            .rest()
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .collect();
        self.at += digits.len();
        if digits.is_empty() || digits.len() > 6 || !self.eat("}") {
            return Err(self.error("expected 1 to 6 hex digits and `}` in \\u{…}"));
        }
        u32::from_str_radix(&digits, 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| self.error("not a Unicode scalar value"))
    }

    fn hex(&mut self) -> Result<Vec<u8>> {
        let digits: &str = {
            let rest = self.rest();
            let n = rest.len()
                - rest
                    .trim_start_matches(|c: char| c.is_ascii_hexdigit())
                    .len();
            &rest[..n]
        };
        if digits.len() % 2 != 0 {
            return Err(self.error("odd number of hex digits"));
        }
        let bytes = (0..digits.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&digits[i..i + 2], 16))
            .collect::<std::result::Result<Vec<u8>, _>>()
            .map_err(|_| self.error("bad hex digit"))?;
        self.at += digits.len();
        Ok(bytes)
    }

    fn integer(&mut self) -> Result<Part> {
        let start = self.at;
        self.eat("-");
        while self.rest().starts_with(|c: char| c.is_ascii_digit()) {
            self.at += 1;
        }
        let number = &self.text[start..self.at];
        if number == "-" {
            return Err(self.error("expected digits after `-`"));
        }
        let suffixes = ["i64", "i32", "i16", "i8", "u64", "u32", "u16", "u8"];
        let suffix = suffixes.into_iter().find(|s| self.rest().starts_with(s));
        self.at += suffix.map_or(0, str::len);
        let out_of_range = |p: &Parser<'_>| {
            p.error(&format!(
                "integer {number} is out of range for {}",
                suffix.unwrap_or("i64 (add the u64 suffix for larger unsigned values)")
            ))
        };
        let signed = |min: i64, max: i64, p: &Parser<'_>| match number.parse::<i64>() {
            Ok(v) if (min..=max).contains(&v) => Ok(Part::I64(v)),
            _ => Err(out_of_range(p)),
        };
        let unsigned = |max: u64, p: &Parser<'_>| match number.parse::<u64>() {
            Ok(v) if v <= max => Ok(v),
            _ => Err(out_of_range(p)),
        };
        match suffix {
            None | Some("i64") => signed(i64::MIN, i64::MAX, self),
            Some("i32") => signed(i32::MIN.into(), i32::MAX.into(), self),
            Some("i16") => signed(i16::MIN.into(), i16::MAX.into(), self),
            Some("i8") => signed(i8::MIN.into(), i8::MAX.into(), self),
            Some("u64") => unsigned(u64::MAX, self).map(Part::U64),
            Some("u32") => unsigned(u32::MAX.into(), self).map(Part::U64),
            Some("u16") => unsigned(u16::MAX.into(), self).map(Part::U64),
            _ => unsigned(u8::MAX.into(), self).map(|v| Part::U8(v as u8)),
        }
    }
}
