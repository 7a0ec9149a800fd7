//! The key notation: decoding and parsing round-trip every upstream vector
//! of tests/data/keys.json, and the parser's grammar and errors.

use persistency::{decode_key, encode_parts, format_key, parse_key, parse_parts, ErrorKind, Part};
use serde_json::Value;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn cases() -> Vec<Value> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/keys.json"))
            .expect("vectors");
    let doc: Value = serde_json::from_str(&text).expect("json");
    let cases = doc["cases"].as_array().expect("cases").clone();
    assert!(cases.len() > 100, "expected the full vector set");
    cases
}

/// The vector's parts written in the notation, by hand from the JSON.
fn notation_of(parts: &[Value]) -> String {
    let written: Vec<String> = parts
        .iter()
        .map(|part| {
            let value = || part["value"].as_str().expect("value").to_string();
            match part["type"].as_str().expect("type") {
                "str" => Part::Str(value()).to_string(),
                "bytes" => format!("0x{}", part["hex"].as_str().expect("hex")),
                "raw" => format!("raw:0x{}", part["hex"].as_str().expect("hex")),
                "bool" => part["value"].as_bool().expect("bool").to_string(),
                "i64" => value(),
                ty => format!("{}{ty}", value()),
            }
        })
        .collect();
    format!("({})", written.join(", "))
}

#[test]
fn every_vector_decodes_and_reencodes_to_the_same_bytes() {
    for (i, case) in cases().iter().enumerate() {
        let key = hex(case["key_hex"].as_str().expect("key_hex"));
        let parts = decode_key(&key);
        assert_eq!(
            encode_parts(&parts).expect("encode"),
            key,
            "case {i}: {case}"
        );
        let text = format_key(&key);
        assert_eq!(parse_key(&text).expect("parse"), key, "case {i}: {text}");
    }
}

#[test]
fn every_vector_written_in_the_notation_parses_to_its_bytes() {
    for (i, case) in cases().iter().enumerate() {
        let text = notation_of(case["parts"].as_array().expect("parts"));
        let key = hex(case["key_hex"].as_str().expect("key_hex"));
        assert_eq!(parse_key(&text).expect(&text), key, "case {i}: {text}");
    }
}

#[test]
fn a_message_key_decodes_to_its_typed_parts() {
    let key = parse_key(r#"("/waku/2/default", 1700000000000000000, 0x1a2b, 5u64)"#).unwrap();
    assert_eq!(
        decode_key(&key),
        [
            Part::Str("/waku/2/default".into()),
            Part::I64(1_700_000_000_000_000_000),
            Part::Bytes(vec![0x1a, 0x2b]),
            Part::U64(5),
        ]
    );
    assert_eq!(
        format_key(&key),
        r#"("/waku/2/default", 1700000000000000000, 0x1a2b, 5u64)"#
    );
}

#[test]
fn undecodable_bytes_show_as_raw() {
    assert_eq!(format_key(&[0xff, 0xff, 0xff]), "(raw:0xffffff)");
    assert_eq!(format_key(&[]), "()");
    let key = parse_key(r#"("topic", 7u8)"#).unwrap();
    assert_eq!(format_key(&key), r#"("topic", raw:0x07)"#);
}

#[test]
fn the_grammar_accepts_its_forms() {
    let parts =
        parse_parts(" ( \"a\\\"b\\u{e9}\" , -3i32,7u16,255u8 , false,0xAB, raw:0x, ) ").unwrap();
    assert_eq!(
        parts,
        [
            Part::Str("a\"b\u{e9}".into()),
            Part::I64(-3),
            Part::U64(7),
            Part::U8(255),
            Part::Bool(false),
            Part::Bytes(vec![0xab]),
            Part::Raw(vec![]),
        ]
    );
    assert_eq!(parse_parts("42").unwrap(), [Part::I64(42)]);
    assert_eq!(parse_parts("()").unwrap(), []);
    assert_eq!(
        parse_parts("18446744073709551615u64").unwrap(),
        [Part::U64(u64::MAX)]
    );
}

#[test]
fn malformed_notation_is_an_invalid_argument_that_says_where() {
    for bad in [
        "(\"open",
        "(1, 2",
        "0x123",
        "256u8",
        "18446744073709551615",
        "(1 2)",
        "nope",
        "\"\\q\"",
        "(1) x",
        "(-)",
    ] {
        let err = parse_key(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad}");
        assert!(
            err.message().contains("bad key notation at byte"),
            "{bad}: {err}"
        );
    }
}

proptest::proptest! {
    /// Any bytes decode into parts that encode back to them, and the text
    /// parses back to them.
    #[test]
    fn any_bytes_round_trip(key in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
        let parts = decode_key(&key);
        proptest::prop_assert_eq!(encode_parts(&parts).unwrap(), key.clone());
        proptest::prop_assert_eq!(parse_key(&format_key(&key)).unwrap(), key);
    }

    /// Keys made of typed parts round-trip through the notation.
    #[test]
    fn typed_keys_round_trip(
        topic in "[ -~\u{e9}\u{6f22}\n\"\\\\]{0,20}",
        ts in proptest::num::i64::ANY,
        n in proptest::num::u64::ANY,
        flag in proptest::bool::ANY,
        hash in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
    ) {
        let key = persistency::encode_key(&(topic.as_str(), ts, n, flag, hash.as_slice())).unwrap();
        proptest::prop_assert_eq!(parse_key(&format_key(&key)).unwrap(), key.clone());
        let written = persistency::format_parts(&[
            Part::Str(topic), Part::I64(ts), Part::U64(n), Part::Bool(flag), Part::Bytes(hash),
        ]);
        proptest::prop_assert_eq!(parse_key(&written).unwrap(), key);
    }
}
