//! The library's fingerprints, counts and splits of a known set equal
//! those computed independently, by brute force, in Python
//! (`tests/data/sync_vectors.py`, output committed as
//! `tests/data/sync_vectors.json`).

use persistency::{Persistency, SyncId, SyncRange};
use serde_json::Value;

fn hex(s: &str) -> [u8; 32] {
    let bytes: Vec<u8> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect();
    bytes.try_into().unwrap()
}

fn id(v: &Value) -> SyncId {
    SyncId::new(
        v["time"].as_i64().unwrap(),
        hex(v["hash"].as_str().unwrap()),
    )
}

fn range(v: &Value) -> SyncRange {
    SyncRange::new(id(&v["start"]), id(&v["stop"]))
}

#[test]
fn fingerprints_match_the_python_vectors() {
    let text = std::fs::read_to_string("tests/data/sync_vectors.json").unwrap();
    let data: Value = serde_json::from_str(&text).unwrap();
    let db = Persistency::new(":memory:").unwrap();
    let job = db.open_job("vectors").unwrap();
    let elements: Vec<SyncId> = data["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect();
    // In three batches, out of order, to exercise splits of buckets.
    let mut shuffled = elements.clone();
    shuffled.reverse();
    for chunk in shuffled.chunks(400) {
        job.sync_add("vectors", chunk).unwrap();
    }
    assert_eq!(job.sync_len("vectors").unwrap(), 1000);
    let summaries = data["summaries"].as_array().unwrap();
    assert!(summaries.len() >= 8);
    for case in summaries {
        let got = job.sync_summary(&["vectors"], range(case)).unwrap();
        assert_eq!(got.count, case["count"].as_u64().unwrap(), "{case}");
        assert_eq!(
            got.fingerprint,
            hex(case["fingerprint"].as_str().unwrap()),
            "{case}"
        );
    }
    for case in data["splits"].as_array().unwrap() {
        let got = job.sync_split(&["vectors"], range(case), 8).unwrap();
        let want = case["parts"].as_array().unwrap();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g.range, range(w), "{case}");
            assert_eq!(g.summary.count, w["count"].as_u64().unwrap());
            assert_eq!(
                g.summary.fingerprint,
                hex(w["fingerprint"].as_str().unwrap())
            );
        }
    }
}
