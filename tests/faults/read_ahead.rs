//! Paginated callback scans, whose next page the worker reads ahead: with
//! random writes between the pages (into the page read ahead too), every
//! page equals a model of the writes accepted before its request, in both
//! directions; and pages were in fact answered from the read-ahead
//! (`fault::served_ahead`, kept per category, so tests running beside
//! this one do not count).

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::Duration;

use persistency::{fault, Job, Persistency, Result, Rows, ScanOptions};

use crate::common::rng::Rng;

const CATEGORY: &str = "read-ahead";

/// One page through `scan_then` (the worker and its callback).
fn page(job: &Job, start: &[u8], stop: &[u8], reverse: bool, limit: u32) -> Result<Rows> {
    let (tx, rx) = mpsc::channel();
    let options = ScanOptions::new().reverse(reverse).limit(limit);
    job.scan_then(CATEGORY, start, stop, options, move |rows| {
        let _ = tx.send(rows);
    })?;
    rx.recv().expect("the callback runs")
}

/// Rows as `(key, payload)` pairs.
type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// The model's page of `[start, stop)`: its rows, and whether more remain.
fn model_page(
    model: &BTreeMap<Vec<u8>, Vec<u8>>,
    start: &[u8],
    stop: &[u8],
    reverse: bool,
    limit: usize,
) -> (Pairs, bool) {
    let in_range = |k: &&Vec<u8>| k.as_slice() >= start && (stop.is_empty() || k.as_slice() < stop);
    let rows: Vec<_> = if reverse {
        model.iter().rev().filter(|(k, _)| in_range(k)).collect()
    } else {
        model.iter().filter(|(k, _)| in_range(k)).collect()
    };
    let page = rows
        .iter()
        .take(limit)
        .map(|(k, v)| ((*k).clone(), (*v).clone()))
        .collect();
    (page, rows.len() > limit)
}

fn key(rng: &mut Rng) -> Vec<u8> {
    (rng.below(800) as u16).to_be_bytes().to_vec()
}

#[test]
fn pages_read_ahead_see_every_write_accepted_before() -> Result<()> {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Persistency::new(dir.path().to_str().expect("UTF-8"))?;
    let job = db.open_job("ahead")?;
    let mut model = BTreeMap::new();
    for i in (0u16..800).step_by(2) {
        job.put(CATEGORY, &i.to_be_bytes(), b"first")?;
        model.insert(i.to_be_bytes().to_vec(), b"first".to_vec());
    }
    let mut pages = 0;
    for seed in 0..40u64 {
        let mut rng = Rng(seed);
        let reverse = seed % 2 == 1;
        let limit = 1 + rng.below(40) as u32;
        let (mut start, mut stop) = (Vec::new(), Vec::new());
        loop {
            // Writes between pages, accepted before the next page's request:
            // puts of new and existing keys, deletes, a batch.
            match rng.below(6) {
                0 => {
                    let (k, v) = (key(&mut rng), rng.next().to_le_bytes().to_vec());
                    job.put(CATEGORY, &k, &v)?;
                    model.insert(k, v);
                }
                1 => {
                    let k = key(&mut rng);
                    job.delete(CATEGORY, &k)?;
                    model.remove(&k);
                }
                2 => {
                    let (a, b) = (key(&mut rng), key(&mut rng));
                    job.put(CATEGORY, &a, b"batch")?;
                    job.delete(CATEGORY, &b)?;
                    model.insert(a, b"batch".to_vec());
                    model.remove(&b);
                }
                3 if seed == 7 => {
                    // Longer than the worker keeps a page read ahead.
                    std::thread::sleep(Duration::from_millis(80));
                }
                _ => {}
            }
            let rows = page(&job, &start, &stop, reverse, limit)?;
            pages += 1;
            let (expected, more) = model_page(&model, &start, &stop, reverse, limit as usize);
            assert_eq!(rows.to_pairs(), expected, "seed {seed}, page {pages}");
            assert_eq!(rows.has_more(), more, "seed {seed}, page {pages}");
            let Some(last) = rows.last().filter(|_| rows.has_more()) else {
                break;
            };
            if reverse {
                stop = last.key.to_vec();
            } else {
                start = last.key.to_vec();
                start.push(0);
            }
        }
    }
    let served = fault::served_ahead(CATEGORY);
    assert!(
        served > 0,
        "no page of {pages} was answered from the read-ahead"
    );
    Ok(())
}
