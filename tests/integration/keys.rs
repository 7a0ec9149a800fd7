//! Key encoding: every vector of tests/data/keys.json (produced by the
//! upstream Nim encoder) and the upstream sort invariants.

use persistency::{encode_key, prefix_stop, Key};
use serde_json::Value;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn push_part(key: &mut Key, part: &Value) -> persistency::Result<()> {
    let value = || part["value"].as_str().expect("value string");
    match part["type"].as_str().expect("type") {
        "str" => key.push_str(value())?,
        "bytes" => key.push_bytes(&hex(part["hex"].as_str().expect("hex")))?,
        "raw" => key.push_raw(&hex(part["hex"].as_str().expect("hex")))?,
        "i64" => key.push_i64(value().parse().expect("i64"))?,
        "i32" => key.push(&value().parse::<i32>().expect("i32"))?,
        "u64" => key.push_u64(value().parse().expect("u64"))?,
        "u16" => key.push(&value().parse::<u16>().expect("u16"))?,
        "u8" => key.push_u8(value().parse().expect("u8"))?,
        "bool" => key.push_bool(part["value"].as_bool().expect("bool"))?,
        other => panic!("unknown part type {other}"),
    };
    Ok(())
}

#[test]
fn every_vector_matches_the_upstream_encoder() -> persistency::Result<()> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/keys.json"))
            .expect("vectors");
    let doc: Value = serde_json::from_str(&text).expect("json");
    let cases = doc["cases"].as_array().expect("cases");
    assert!(cases.len() > 100, "expected the full vector set");
    for (i, case) in cases.iter().enumerate() {
        let mut key = Key::new();
        for part in case["parts"].as_array().expect("parts") {
            push_part(&mut key, part)?;
        }
        let want = hex(case["key_hex"].as_str().expect("key_hex"));
        assert_eq!(key.as_bytes(), want.as_slice(), "case {i}: {case}");
        let stop = prefix_stop(key.as_bytes()).unwrap_or_default();
        let want_stop = hex(case["prefix_stop_hex"].as_str().expect("stop"));
        assert_eq!(stop, want_stop, "case {i} prefix stop: {case}");
    }
    Ok(())
}

#[test]
fn signed_integers_sort_numerically() -> persistency::Result<()> {
    let values = [i64::MIN, -65_536, -2, -1, 0, 1, 2, 65_536, i64::MAX];
    let keys = values
        .iter()
        .map(encode_key)
        .collect::<Result<Vec<_>, _>>()?;
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
    Ok(())
}

#[test]
fn unsigned_integers_sort_numerically() -> persistency::Result<()> {
    let values = [0u64, 1, 255, 256, 65_535, u64::MAX];
    let keys = values
        .iter()
        .map(encode_key)
        .collect::<Result<Vec<_>, _>>()?;
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
    Ok(())
}

#[test]
fn strings_sort_by_length_then_bytes() -> persistency::Result<()> {
    let ordered = ["", "b", "z", "aa", "ab", "abc"];
    let keys = ordered
        .iter()
        .map(encode_key)
        .collect::<Result<Vec<_>, _>>()?;
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
    Ok(())
}

#[test]
fn tuples_sort_field_by_field() -> persistency::Result<()> {
    let ordered = [("a", -5i64), ("a", 0), ("a", 7), ("b", -100), ("b", 3)];
    let keys = ordered
        .iter()
        .map(encode_key)
        .collect::<Result<Vec<_>, _>>()?;
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
    Ok(())
}

#[test]
fn prefix_range_covers_exactly_the_prefixed_keys() -> persistency::Result<()> {
    let prefix = encode_key("topic")?;
    let stop = prefix_stop(&prefix).expect("bounded");
    for ts in [i64::MIN, 0, i64::MAX] {
        let inside = encode_key(&("topic", ts))?;
        assert!(inside.as_slice() >= prefix.as_slice() && inside < stop);
    }
    for other in ["topia", "topicx", "toq"] {
        let outside = encode_key(&(other, 0i64))?;
        assert!(outside < prefix || outside >= stop, "{other}");
    }
    Ok(())
}

#[test]
fn embedded_keys_are_verbatim() -> persistency::Result<()> {
    let mut inner = Key::new();
    inner.push_str("x")?.push_u8(9)?;
    let mut outer = Key::new();
    outer.push(&inner)?.push_bool(true)?;
    assert_eq!(outer.as_bytes(), &[0, 1, b'x', 9, 1]);
    Ok(())
}
