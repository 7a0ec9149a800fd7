//! Writes the small job used by the README's session with the tool:
//! `cargo run -p persistency-cli --example demo_data -- ./data`.

use persistency::{Key, Op, Persistency};

fn main() -> persistency::Result<()> {
    let root = std::env::args().nth(1).unwrap_or_else(|| "./data".into());
    let db = Persistency::new(&root)?;
    let job = db.open_job("store")?;
    let mut ops = Vec::new();
    for (i, text) in ["hello", "world", "again"].iter().enumerate() {
        let key = Key::new()
            .push_str("/waku/2/default")?
            .push_i64(1_700_000_000_000 + i as i64)?
            .push_bytes(&[0x1a, 0x2b, i as u8])?
            .to_vec();
        ops.push(Op::put("messages", key, text.as_bytes().to_vec()));
    }
    ops.push(Op::put(
        "meta",
        Key::new().push_str("version")?.to_vec(),
        vec![0, 1],
    ));
    job.write(ops)?;
    db.close()
}
