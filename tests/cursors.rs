//! Cursors (issue 13): pages in order both ways, the read-ahead page, the
//! snapshot rule, early drops.

use persistency::{Persistency, Result, ScanOptions, DEFAULT_PAGE_ROWS};

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
fn each_page_sees_the_writes_accepted_before_it_was_read() -> Result<()> {
    let db = Persistency::new(":memory:")?;
    let job = db.open_job("snap")?;
    for i in 0..10 {
        job.put("c", &key(i * 10), b"v")?;
    }
    let mut cursor = job.cursor("c", b"", b"", ScanOptions::new().limit(4))?;
    // Accepted before the first page is asked for: seen.
    job.put("c", &key(1), b"v")?;
    let first = cursor.next_page()?.expect("a page");
    assert_eq!(first.get(1).map(|r| r.key.to_vec()), Some(key(1).to_vec()));
    // Accepted after page 2 was read ahead: may or may not be seen; the
    // pages still come in order, without repeats.
    job.put("c", &key(35), b"v")?;
    let mut rest = Vec::new();
    while let Some(page) = cursor.next_page()? {
        rest.extend(page.iter().map(|r| r.key.to_vec()));
    }
    let mut sorted = rest.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(rest, sorted);
    assert!(rest.contains(&key(90).to_vec()));
    Ok(())
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
