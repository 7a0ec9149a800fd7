//! Storage behaviours of the upstream backend suite, through a job.

use persistency::{ErrorKind, Job, Op, Persistency, Result, ScanOptions};

fn job() -> Result<(Persistency, Job)> {
    let db = Persistency::new(":memory:")?;
    let job = db.open_job("backend")?;
    Ok((db, job))
}

fn keys_of(rows: &persistency::Rows) -> Vec<Vec<u8>> {
    rows.iter().map(|r| r.key.to_vec()).collect()
}

#[test]
fn round_trip_and_replace() -> Result<()> {
    let (_db, job) = job()?;
    job.put("c", b"k", b"one")?;
    assert_eq!(job.get("c", b"k")?, Some(b"one".to_vec()));
    job.put("c", b"k", b"two")?;
    assert_eq!(job.get("c", b"k")?, Some(b"two".to_vec()));
    assert_eq!(job.count("c", b"", b"")?, 1);
    Ok(())
}

#[test]
fn missing_key_and_empty_count() -> Result<()> {
    let (_db, job) = job()?;
    assert_eq!(job.get("c", b"nope")?, None);
    assert!(!job.exists("c", b"nope")?);
    assert_eq!(job.count("c", b"", b"")?, 0);
    assert!(job.scan("c", b"", b"", ScanOptions::default())?.is_empty());
    Ok(())
}

#[test]
fn empty_key_and_payload_are_values() -> Result<()> {
    let (_db, job) = job()?;
    job.put("c", b"", b"")?;
    assert_eq!(job.get("c", b"")?, Some(Vec::new()));
    assert!(job.exists("c", b"")?);
    Ok(())
}

#[test]
fn delete_acked_reports_existence() -> Result<()> {
    let (_db, job) = job()?;
    job.put("c", b"k", b"v")?;
    assert!(job.delete_acked("c", b"k")?);
    assert!(!job.delete_acked("c", b"k")?);
    assert_eq!(job.get("c", b"k")?, None);
    Ok(())
}

#[test]
fn fire_and_forget_delete_is_seen_by_the_next_read() -> Result<()> {
    let (_db, job) = job()?;
    job.put("c", b"k", b"v")?;
    job.delete("c", b"k")?;
    assert!(!job.exists("c", b"k")?);
    Ok(())
}

#[test]
fn batch_is_atomic_and_applies_in_order() -> Result<()> {
    let (_db, job) = job()?;
    job.write(vec![
        Op::put("c", b"a".to_vec(), b"1".to_vec()),
        Op::put("c", b"b".to_vec(), b"2".to_vec()),
        Op::delete("c", b"a".to_vec()),
        Op::put("c", b"c".to_vec(), b"3".to_vec()),
    ])?;
    let rows = job.scan("c", b"", b"", ScanOptions::default())?;
    assert_eq!(
        rows.to_pairs(),
        vec![
            (b"b".to_vec(), b"2".to_vec()),
            (b"c".to_vec(), b"3".to_vec())
        ]
    );
    Ok(())
}

#[test]
fn batch_delete_and_delete_prefix() -> Result<()> {
    let (_db, job) = job()?;
    for k in [&b"a1"[..], b"a2", b"a\xff", b"b1", b"\xff\xff"] {
        job.put("c", k, b"v")?;
    }
    job.put("other", b"a1", b"v")?;
    job.write(vec![
        Op::delete_prefix("c", b"a".to_vec()),
        Op::delete("c", b"b1".to_vec()),
    ])?;
    assert_eq!(
        keys_of(&job.scan("c", b"", b"", ScanOptions::default())?),
        vec![b"\xff\xff".to_vec()]
    );
    job.delete_prefix("c", b"\xff")?;
    assert_eq!(job.count("c", b"", b"")?, 0);
    assert!(job.exists("other", b"a1")?, "another category is untouched");
    job.delete_prefix("other", b"")?;
    assert_eq!(
        job.count("other", b"", b"")?,
        0,
        "an empty prefix clears the category"
    );
    Ok(())
}

#[test]
fn categories_are_isolated() -> Result<()> {
    let (_db, job) = job()?;
    job.put("a", b"k", b"in a")?;
    job.put("b", b"k", b"in b")?;
    assert_eq!(job.get("a", b"k")?, Some(b"in a".to_vec()));
    assert_eq!(job.get("b", b"k")?, Some(b"in b".to_vec()));
    assert_eq!(job.count("a", b"", b"")?, 1);
    assert_eq!(job.get("c", b"k")?, None);
    Ok(())
}

#[test]
fn scans_half_open_open_ended_and_reversed() -> Result<()> {
    let (_db, job) = job()?;
    for i in 0u8..10 {
        job.put("c", &[i], &[i * 2])?;
    }
    let all = ScanOptions::default();
    let rev = ScanOptions::new().reverse(true).limit(0);
    assert_eq!(
        keys_of(&job.scan("c", &[3], &[6], all)?),
        vec![vec![3], vec![4], vec![5]]
    );
    assert_eq!(
        keys_of(&job.scan("c", &[3], &[6], rev)?),
        vec![vec![5], vec![4], vec![3]]
    );
    assert_eq!(
        job.scan("c", &[7], b"", all)?.len(),
        3,
        "empty stop: open-ended"
    );
    assert_eq!(job.scan("c", &[6], &[6], all)?.len(), 0, "empty range");
    assert_eq!(job.count("c", &[3], &[6])?, 3);
    assert_eq!(job.count("c", &[3], b"")?, 7);
    let row = job.scan("c", &[4], &[5], all)?;
    assert_eq!(row.get(0).map(|r| r.payload.to_vec()), Some(vec![8]));
    Ok(())
}

#[test]
fn pagination_ascending_and_descending() -> Result<()> {
    let (_db, job) = job()?;
    for i in 0u8..7 {
        job.put("c", &[b'p', i], b"v")?;
    }
    // Ascending: resume from the last key with 0x00 appended.
    let mut seen = Vec::new();
    let mut start = b"p".to_vec();
    loop {
        let page = job.scan_prefix_from(&start)?;
        seen.extend(keys_of(&page));
        if !page.has_more() {
            break;
        }
        start = page.last().expect("rows").key.to_vec();
        start.push(0);
    }
    assert_eq!(seen.len(), 7);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    // Descending: resume with the last key as stop.
    let mut seen = Vec::new();
    let mut stop = b"q".to_vec();
    loop {
        let page = job.scan("c", b"p", &stop, ScanOptions::new().reverse(true).limit(3))?;
        seen.extend(keys_of(&page));
        if !page.has_more() {
            break;
        }
        stop = page.last().expect("rows").key.to_vec();
    }
    assert_eq!(seen.len(), 7);
    assert!(seen.windows(2).all(|w| w[0] > w[1]));
    // Exactly `limit` remaining rows: has_more is false.
    let page = job.scan(
        "c",
        &[b'p', 4],
        b"",
        ScanOptions::new().reverse(false).limit(3),
    )?;
    assert_eq!(page.len(), 3);
    assert!(!page.has_more());
    Ok(())
}

trait PageFrom {
    fn scan_prefix_from(&self, start: &[u8]) -> Result<persistency::Rows>;
}

impl PageFrom for Job {
    fn scan_prefix_from(&self, start: &[u8]) -> Result<persistency::Rows> {
        self.scan("c", start, b"q", ScanOptions::new().reverse(false).limit(3))
    }
}

#[test]
fn scan_prefix_both_ways() -> Result<()> {
    let (_db, job) = job()?;
    let prefix = persistency::encode_key("room")?;
    for ts in [-3i64, 0, 5] {
        job.put("m", &persistency::encode_key(&("room", ts))?, b"x")?;
    }
    job.put("m", &persistency::encode_key(&("rooms", 0i64))?, b"x")?;
    let asc = job.scan_prefix("m", &prefix, ScanOptions::default())?;
    let desc = job.scan_prefix("m", &prefix, ScanOptions::new().reverse(true).limit(0))?;
    assert_eq!(asc.len(), 3);
    let mut reversed = keys_of(&desc);
    reversed.reverse();
    assert_eq!(keys_of(&asc), reversed);
    Ok(())
}

#[test]
fn get_many_keeps_the_order_of_the_keys() -> Result<()> {
    let (_db, job) = job()?;
    for k in [b"a", b"b", b"c"] {
        job.put("c", k, k)?;
    }
    let rows = job.get_many("c", vec![b"c".to_vec(), b"x".to_vec(), b"a".to_vec()])?;
    assert_eq!(keys_of(&rows), vec![b"c".to_vec(), b"a".to_vec()]);
    assert_eq!(rows.get(0).map(|r| r.payload.to_vec()), Some(b"c".to_vec()));
    assert!(job.get_many("c", Vec::new())?.is_empty());
    Ok(())
}

#[test]
fn over_long_category_is_refused() -> Result<()> {
    let (_db, job) = job()?;
    let long = "c".repeat(65_536);
    assert_eq!(
        job.put(&long, b"k", b"v").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        job.get(&long, b"k").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        job.write(vec![Op::put(&long, b"k".to_vec(), b"v".to_vec())])
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    job.put("c".repeat(65_535), b"k", b"v")?;
    assert_eq!(job.stats()?.ops_failed, 0);
    Ok(())
}
