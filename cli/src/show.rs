//! How bytes, times and tables are written.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;

use crate::PayloadFormat;

/// Lower-case hex without a prefix.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Standard padded base64.
pub fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes standard padded base64.
pub fn from_base64(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// Decodes hex (either case, even length).
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// The bytes as text when they are UTF-8 without control characters.
fn printable(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes)
        .ok()
        .filter(|s| !s.chars().any(char::is_control))
}

/// A category: its text when printable, else 0x-prefixed hex.
pub fn category(bytes: &[u8]) -> String {
    match printable(bytes) {
        Some(s) => s.to_string(),
        None => format!("0x{}", hex(bytes)),
    }
}

/// A payload in `format` as text (`Raw` as lossy UTF-8: callers that write
/// bytes write raw payloads themselves).
pub fn payload(bytes: &[u8], format: PayloadFormat) -> String {
    match format {
        PayloadFormat::Auto => category(bytes),
        PayloadFormat::Hex => format!("0x{}", hex(bytes)),
        PayloadFormat::Base64 => base64(bytes),
        PayloadFormat::Raw => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// A time as UTC `YYYY-MM-DDTHH:MM:SSZ`, or `-` when unknown.
pub fn time(t: Option<SystemTime>) -> String {
    let Some(secs) = t
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
    else {
        return "-".into();
    };
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (the proleptic Gregorian
    // calendar, by 400-year eras).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Writes rows as columns separated by two spaces, each as wide as its
/// widest cell; columns listed in `right` are right-aligned.
pub fn table(header: &[&str], rows: &[Vec<String>], right: &[usize]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            let pad = " ".repeat(w - cell.chars().count());
            let last = i + 1 == cells.len();
            match (right.contains(&i), last) {
                (true, _) => out.push_str(&format!("{pad}{cell}")),
                (false, true) => out.push_str(cell),
                (false, false) => out.push_str(&format!("{cell}{pad}")),
            }
            if !last {
                out.push_str("  ");
            }
        }
        out.push('\n');
        out
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        out.push_str(&line(row.clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_dates() {
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        assert_eq!(time(Some(t)), "2023-11-14T22:13:20Z");
        assert_eq!(time(Some(UNIX_EPOCH)), "1970-01-01T00:00:00Z");
        assert_eq!(time(None), "-");
    }

    #[test]
    fn payloads_fall_back_to_hex() {
        assert_eq!(payload(b"hi", PayloadFormat::Auto), "hi");
        assert_eq!(payload(&[0, 1], PayloadFormat::Auto), "0x0001");
        assert_eq!(payload(b"hi", PayloadFormat::Base64), "aGk=");
        assert_eq!(from_hex("0aFF"), Some(vec![10, 255]));
        assert_eq!(from_hex("0"), None);
    }
}
