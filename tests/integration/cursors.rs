//! Cursors (issue 13): pages in order both ways, the read-ahead page, the
//! snapshot rule, early drops.

use crate::common;

use persistency::{Op, Persistency, Result, ScanOptions, DEFAULT_PAGE_ROWS};

fn key(i: u32) -> [u8; 4] {
    i.to_be_bytes()
}

fn keys_of(
    job: &persistency::Job,
    start: &[u8],
    stop: &[u8],
    options: ScanOptions,
) -> Result<(Vec<u32>, usize)> {
    let mut cursor = job.cursor("c", start, stop, options)?;
    let (mut keys, mut pages) = (Vec::new(), 0);
    while let Some(page) = cursor.next_page()? {
        let limit = if options.limit == 0 {
            DEFAULT_PAGE_ROWS
        } else {
            options.limit
        };
        assert!(
            !page.is_empty() && page.len() <= limit as usize,
            "page of {}",
            page.len()
        );
        pages += 1;
        keys.extend(
            page.iter()
                .map(|r| u32::from_be_bytes(r.key.try_into().expect("4 bytes"))),
        );
    }
    assert!(cursor.next_page()?.is_none(), "a done cursor stays done");
    Ok((keys, pages))
}

#[test]
fn pages_cover_the_range_in_order_both_ways() -> Result<()> {
    for root in [
        ":memory:".to_string(),
        tempfile::tempdir()
            .expect("dir")
            .keep()
            .display()
            .to_string(),
    ] {
        let db = Persistency::new(&root)?;
        let job = db.open_job("cursor")?;
        for i in 0..1_000 {
            job.put("c", &key(i), b"v")?;
        }
        job.put("other", &key(5), b"v")?;
        let all: Vec<u32> = (0..1_000).collect();
        let (keys, pages) = keys_of(&job, b"", b"", ScanOptions::new().limit(64))?;
        assert_eq!(keys, all);
        assert_eq!(pages, 16);
        let (keys, _) = keys_of(&job, b"", b"", ScanOptions::new().limit(64).reverse(true))?;
        assert_eq!(keys, all.iter().rev().copied().collect::<Vec<_>>());
        let (keys, pages) = keys_of(&job, &key(100), &key(300), ScanOptions::new().limit(100))?;
        assert_eq!(keys, (100..300).collect::<Vec<_>>());
        assert_eq!(pages, 2);
        let (keys, _) = keys_of(&job, &key(100), &key(300), ScanOptions::new().reverse(true))?;
        assert_eq!(keys, (100..300).rev().collect::<Vec<_>>());
        let (keys, pages) = keys_of(&job, &key(2_000), b"", ScanOptions::new())?;
        assert!(keys.is_empty() && pages == 0);
        db.close()?;
        if root != ":memory:" {
            std::fs::remove_dir_all(&root).expect("cleanup");
        }
    }
    Ok(())
}

#[test]
fn each_page_sees_the_writes_accepted_before_its_call() -> Result<()> {
    // In memory every page comes from the worker, the next read ahead; on
    // disk a page is read on the calling thread while no write is pending,
    // else by the worker. Each must see the writes accepted before its call.
    for root in [":memory:".to_string(), disk_root()] {
        let db = Persistency::new(&root)?;
        let job = db.open_job("snap")?;
        for i in 0..10 {
            job.put("c", &key(i * 10), b"v")?;
        }
        let mut cursor = job.cursor("c", b"", b"", ScanOptions::new().limit(4))?;
        // Accepted before the first page is asked for: seen.
        job.put("c", &key(1), b"v")?;
        assert_eq!(page_keys(&mut cursor)?, [0, 1, 10, 20]);
        // Accepted after page 2 may have been read ahead: still seen.
        job.put("c", &key(25), b"v")?;
        assert_eq!(page_keys(&mut cursor)?, [25, 30, 40, 50]);
        // Committed by another thread before the call: seen.
        let other = job.clone();
        std::thread::spawn(move || {
            other.write(vec![Op::put("c", key(55).to_vec(), b"v".to_vec())])
        })
        .join()
        .expect("writer")?;
        job.put("c", &key(56), b"v")?;
        job.flush()?;
        assert_eq!(page_keys(&mut cursor)?, [55, 56, 60, 70]);
        // Deleted before the call: gone; a write past the end: seen.
        job.delete("c", &key(80))?;
        job.put("c", &key(95), b"v")?;
        assert_eq!(page_keys(&mut cursor)?, [90, 95]);
        assert!(cursor.next_page()?.is_none());
        db.close()?;
        remove_root(&root);
    }
    Ok(())
}

#[test]
fn a_page_waits_for_an_accepted_write_the_worker_has_not_committed() -> Result<()> {
    // The worker is held, so the write below is accepted but surely not
    // committed when the page is asked for: a page read on the calling
    // thread without waiting would miss it.
    let root = disk_root();
    let db = Persistency::new(&root)?;
    let job = db.open_job("held")?;
    for i in 0..4 {
        job.put("c", &key(i * 10), b"v")?;
    }
    job.flush()?;
    let mut cursor = job.cursor("c", b"", b"", ScanOptions::new().limit(2))?;
    assert_eq!(page_keys(&mut cursor)?, [0, 10]);
    let release = common::hold_worker(&job);
    job.put("c", &key(15), b"v")?;
    let reader = std::thread::spawn(move || {
        let first = page_keys(&mut cursor);
        (first, cursor)
    });
    // Give the reader time to ask before the worker goes on (if it asks
    // later, the test passes without proving anything, never wrongly fails).
    std::thread::sleep(std::time::Duration::from_millis(30));
    drop(release);
    let (page, mut cursor) = reader.join().expect("reader");
    assert_eq!(page?, [15, 20]);
    // The next page was read ahead by the worker; a write accepted since
    // must still be in it.
    job.put("c", &key(25), b"v")?;
    assert_eq!(page_keys(&mut cursor)?, [25, 30]);
    db.close()?;
    remove_root(&root);
    Ok(())
}

#[test]
fn a_cursor_sees_writes_from_threads_it_heard_from() -> Result<()> {
    // A writer thread tells the reader each key once it was accepted; the
    // reader's next page, asked for after that, must hold it.
    for root in [":memory:".to_string(), disk_root()] {
        let db = Persistency::new(&root)?;
        let job = db.open_job("threads")?;
        job.put("c", &key(0), b"v")?;
        let mut cursor = job.cursor("c", b"", b"", ScanOptions::new().limit(1))?;
        let (tx, rx) = std::sync::mpsc::channel();
        let writer = job.clone();
        let thread = std::thread::spawn(move || -> Result<()> {
            for i in 1..=200 {
                writer.put("c", &key(i), b"v")?;
                tx.send(i).expect("reader");
            }
            Ok(())
        });
        let mut seen = Vec::new();
        for i in 1..=200u32 {
            assert_eq!(rx.recv().expect("writer"), i);
            let page = page_keys(&mut cursor)?;
            assert_eq!(page, [i - 1], "page {i} skipped or repeated a key");
            seen.push(page[0]);
        }
        thread.join().expect("writer")?;
        assert_eq!(page_keys(&mut cursor)?, [200]);
        assert!(cursor.next_page()?.is_none());
        db.close()?;
        remove_root(&root);
    }
    Ok(())
}

/// A fresh directory for a job on disk, removed by [`remove_root`].
fn disk_root() -> String {
    tempfile::tempdir()
        .expect("dir")
        .keep()
        .display()
        .to_string()
}

fn remove_root(root: &str) {
    if root != ":memory:" {
        std::fs::remove_dir_all(root).expect("cleanup");
    }
}

/// The keys of the cursor's next page (empty once it is exhausted).
fn page_keys(cursor: &mut persistency::Cursor) -> Result<Vec<u32>> {
    Ok(cursor
        .next_page()?
        .map(|page| {
            page.iter()
                .map(|r| u32::from_be_bytes(r.key.try_into().expect("4 bytes")))
                .collect()
        })
        .unwrap_or_default())
}

#[test]
fn dropping_a_cursor_early_is_cheap() -> Result<()> {
    let dir = tempfile::tempdir().expect("dir");
    let db = Persistency::new(dir.path().to_str().expect("utf8"))?;
    let job = db.open_job("drop")?;
    for i in 0..100 {
        job.put("c", &key(i), b"v")?;
    }
    for _ in 0..50 {
        let mut cursor = job.cursor("c", b"", b"", ScanOptions::new().limit(10))?;
        assert!(cursor.next_page()?.is_some());
        drop(cursor); // its read-ahead page completes into nothing
    }
    job.flush()?;
    assert_eq!(job.count("c", b"", b"")?, 100);
    db.close_job("drop")?;
    let mut cursor = job.cursor("c", b"", b"", ScanOptions::new())?;
    assert!(cursor.next_page().is_err(), "a closed job's cursor fails");
    assert!(cursor.next_page()?.is_none(), "and is done after the error");
    Ok(())
}
