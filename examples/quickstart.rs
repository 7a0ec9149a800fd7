//! Quick start in Rust: store chat messages keyed by (content topic,
//! timestamp, hash) in a job under `./data`, then read them back by key and
//! page through a topic with a prefix scan.
//!
//! Run: `cargo run --release --example quickstart`

use persistency::{Key, Op, Persistency, Result, ScanOptions};

fn message_key(topic: &str, timestamp: i64, hash: &[u8; 32]) -> Result<Vec<u8>> {
    Ok(Key::new()
        .push_str(topic)?
        .push_i64(timestamp)?
        .push_bytes(hash)?
        .to_vec())
}

fn main() -> Result<()> {
    let db = Persistency::new("./data")?;
    let job = db.open_job("quickstart")?;
    let topic = "/waku/2/default-content/proto";

    let mut batch = Vec::new();
    for i in 0..5u8 {
        let hash = [i; 32];
        let key = message_key(topic, 1_700_000_000 + i64::from(i), &hash)?;
        batch.push(Op::put(
            "messages",
            key,
            format!("message {i}").into_bytes(),
        ));
    }
    job.write(batch)?;
    println!(
        "wrote 5 messages to job {:?} under {}",
        job.id(),
        db.root_dir()
    );

    let key = message_key(topic, 1_700_000_002, &[2; 32])?;
    let value = job.get("messages", &key)?.unwrap_or_default();
    println!("get message 2 -> {:?}", String::from_utf8_lossy(&value));

    let prefix = Key::new().push_str(topic)?.to_vec();
    let mut start = prefix.clone();
    let stop = persistency::prefix_stop(&prefix).unwrap_or_default();
    let mut page_no = 1;
    loop {
        let page = job.scan(
            "messages",
            &start,
            &stop,
            ScanOptions::new().reverse(false).limit(2),
        )?;
        let texts: Vec<_> = page
            .iter()
            .map(|r| String::from_utf8_lossy(r.payload))
            .collect();
        println!(
            "page {page_no}: {texts:?}{}",
            if page.has_more() { " (more)" } else { "" }
        );
        if !page.has_more() {
            break;
        }
        start = page.last().map(|r| r.key.to_vec()).unwrap_or_default();
        start.push(0);
        page_no += 1;
    }
    let stats = job.stats()?;
    println!(
        "stats: {} ops applied in {} transactions, {} reads, {} bytes on disk",
        stats.ops_applied, stats.transactions, stats.reads, stats.db_bytes
    );
    db.close()?;
    Ok(())
}
