//! Unit tests of the SQLite adapter.

use super::*;

fn mem() -> Result<SqliteBackend> {
    SqliteBackend::open(None, &JobOptions::default())
}

fn range(start: &[u8], stop: Option<&[u8]>) -> Range {
    Range {
        category: b"c".to_vec(),
        start: start.to_vec(),
        stop: stop.map(<[u8]>::to_vec),
    }
}

#[test]
fn batch_is_atomic_inside_a_transaction() -> Result<()> {
    let mut b = mem()?;
    b.begin()?;
    b.apply(&[Op::put("c", b"k1".to_vec(), b"v".to_vec())])?;
    b.commit()?;
    assert_eq!(b.get(b"c", b"k1")?, Some(b"v".to_vec()));
    assert!(b.exists(b"c", b"k1")?);
    assert!(!b.exists(b"c", b"k2")?);
    b.begin()?;
    b.apply(&[
        Op::put("c", b"a".to_vec(), b"1".to_vec()),
        Op::delete_prefix("c", b"k".to_vec()),
    ])?;
    b.commit()?;
    assert_eq!(b.count(&range(b"", None))?, 1);
    Ok(())
}

/// `put_new` stores a row only when its key is absent, says which, and
/// agrees with the trait's default (an `exists`, then a put).
#[test]
fn put_new_tells_whether_it_stored() -> Result<()> {
    let mut b = mem()?;
    b.begin()?;
    b.apply(&[Op::put("c", b"old".to_vec(), b"kept".to_vec())])?;
    assert!(b.put_new(b"c", b"new", b"1")?);
    assert!(!b.put_new(b"c", b"new", b"2")?);
    assert!(!b.put_new(b"c", b"old", b"3")?);
    b.commit()?;
    assert_eq!(b.get(b"c", b"new")?, Some(b"1".to_vec()));
    assert_eq!(b.get(b"c", b"old")?, Some(b"kept".to_vec()));
    Ok(())
}

/// `.cargo/config.toml` compiles the bundled SQLite without
/// SQLITE_ENABLE_MEMORY_MANAGEMENT, which would pool the page caches of
/// all connections (every job's cache evicted by any other's reads).
#[test]
#[cfg(feature = "bundled")]
fn each_connection_keeps_its_own_page_cache() -> Result<()> {
    let b = mem()?;
    let pooled: i64 = b.conn.query_row(
        "SELECT count(*) FROM pragma_compile_options \
         WHERE compile_options = 'ENABLE_MEMORY_MANAGEMENT'",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(
        pooled, 0,
        "bundled SQLite built with ENABLE_MEMORY_MANAGEMENT"
    );
    Ok(())
}

#[test]
fn scan_limit_reports_more() -> Result<()> {
    let mut b = mem()?;
    b.begin()?;
    for i in 0u8..5 {
        b.apply(&[Op::put("c", vec![i], vec![i])])?;
    }
    b.commit()?;
    let page = b.scan(&range(&[1], Some(&[4])), false, 2)?;
    assert_eq!(
        page.to_pairs(),
        vec![(vec![1], vec![1]), (vec![2], vec![2])]
    );
    assert!(page.has_more());
    let page = b.scan(&range(&[1], Some(&[4])), true, 3)?;
    assert_eq!(page.len(), 3);
    assert!(!page.has_more());
    assert_eq!(page.get(0).map(|r| r.key), Some(&[3u8][..]));
    let rows = b.get_many(b"c", &[vec![4], vec![9], vec![0]])?;
    assert_eq!(
        rows.to_pairs(),
        vec![(vec![4], vec![4]), (vec![0], vec![0])]
    );
    Ok(())
}

#[test]
fn sqlite_full_becomes_full() {
    let e = sqlite_error(rusqlite::ffi::SQLITE_FULL, "database or disk is full");
    assert_eq!(e.kind(), ErrorKind::Full);
    assert_eq!(e.backend_code(), 13);
    let e = sqlite_error(rusqlite::ffi::SQLITE_IOERR_WRITE, "disk I/O error");
    assert_eq!(e.kind(), ErrorKind::Backend);
}

/// Bytes the connection's page cache holds now.
fn cache_used(b: &SqliteBackend) -> i64 {
    let (mut current, mut highest) = (0, 0);
    // SAFETY: the connection is live and used on this thread only; the
    // out-pointers are locals.
    unsafe {
        rusqlite::ffi::sqlite3_db_status(
            b.conn.handle(),
            rusqlite::ffi::SQLITE_DBSTATUS_CACHE_USED,
            &mut current,
            &mut highest,
            0,
        )
    };
    i64::from(current)
}

fn cache_size(b: &SqliteBackend) -> Result<i64> {
    Ok(b.conn.query_row("PRAGMA cache_size", [], |r| r.get(0))?)
}

/// A long scan reads on through the small page cache, so its pages do not
/// stay; the job's cache size is back once it returns. Inside a write
/// transaction, whose changed pages live in the cache, it keeps the cache
/// and still sees the transaction's writes.
#[test]
fn long_scans_read_through_a_small_cache() -> Result<()> {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut b = SqliteBackend::open(Some(&dir.path().join("job.db")), &JobOptions::default())?;
    // 2,000 rows of 512 bytes (no overflow pages), 7 to a page.
    let payload = vec![7u8; 512];
    b.begin()?;
    for i in 0u16..2000 {
        b.apply(&[Op::put("c", i.to_be_bytes().to_vec(), payload.clone())])?;
    }
    b.commit()?;
    // A fresh connection: every page the scans below hold is one they read.
    drop(b);
    let mut b = SqliteBackend::open(Some(&dir.path().join("job.db")), &JobOptions::default())?;
    let normal = cache_size(&b)?;
    assert_eq!(normal, -i64::from(CACHE_KIB));

    // A short scan keeps its pages: it copies less than SMALL_CACHE_AFTER.
    let rows = b.scan(&range(&[], None), false, 200)?;
    assert_eq!(rows.len(), 200);
    let short = cache_used(&b);
    assert!(short > 100 * 1024, "a short scan's pages stay: {short}");

    // A long one (about 1 MiB) does not keep them.
    let rows = b.scan(&range(&[], None), false, 0)?;
    assert_eq!(rows.len(), 2000);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.key, (i as u16).to_be_bytes());
        assert_eq!(row.payload, payload);
    }
    let long = cache_used(&b);
    assert!(long < 256 * 1024, "a long scan's pages stayed: {long}");
    assert_eq!(cache_size(&b)?, normal);

    // In a write transaction the cache stays whole.
    b.begin()?;
    b.apply(&[Op::put("c", vec![0xff, 0xff], b"new".to_vec())])?;
    let rows = b.scan(&range(&[], None), true, 0)?;
    assert_eq!(rows.len(), 2001);
    assert_eq!(rows.get(0).map(|r| r.payload), Some(&b"new"[..]));
    assert!(cache_used(&b) > 512 * 1024);
    assert_eq!(cache_size(&b)?, normal);
    b.commit()?;
    Ok(())
}

/// A scan for a page nobody asked for yet stops as soon as `give_up` says
/// so, asked every `GIVE_UP_EVERY` rows; one that is never told reads the
/// page whole.
#[test]
fn a_scan_gives_up_when_told() -> Result<()> {
    let mut b = mem()?;
    b.begin()?;
    for i in 0u16..300 {
        b.apply(&[Op::put("c", i.to_be_bytes().to_vec(), b"v".to_vec())])?;
    }
    b.commit()?;
    let asked = std::cell::Cell::new(0);
    let page = b.scan_unless(&range(&[], None), false, 200, &|| {
        asked.set(asked.get() + 1);
        false
    })?;
    assert_eq!(page.map(|p| p.len()), Some(200));
    assert_eq!(asked.get(), 200 / 64);
    let asked = std::cell::Cell::new(0);
    let page = b.scan_unless(&range(&[], None), true, 0, &|| {
        asked.set(asked.get() + 1);
        asked.get() == 2
    })?;
    assert!(page.is_none());
    assert_eq!(asked.get(), 2);
    // The connection serves on.
    assert_eq!(b.scan(&range(&[], None), false, 0)?.len(), 300);
    Ok(())
}

/// Point lookups bind empty keys and categories as empty blobs (not NULL,
/// which matches nothing), and read payloads as `Row::bytes` does: a text
/// payload as its bytes, anything but a blob or text as empty.
#[test]
fn point_lookups_read_what_was_stored() -> Result<()> {
    let mut b = mem()?;
    b.begin()?;
    b.apply(&[
        Op::put("", b"".to_vec(), b"empty key".to_vec()),
        Op::put("c", b"k".to_vec(), Vec::new()),
    ])?;
    b.commit()?;
    b.conn
        .execute_batch("INSERT INTO kv VALUES (x'63', x'74', 'text'), (x'63', x'69', 42)")?;
    assert_eq!(b.get(b"", b"")?, Some(b"empty key".to_vec()));
    assert!(b.exists(b"", b"")?);
    assert_eq!(b.get(b"c", b"k")?, Some(Vec::new()));
    assert_eq!(b.get(b"c", b"t")?, Some(b"text".to_vec()));
    assert_eq!(b.get(b"c", b"i")?, Some(Vec::new()));
    assert_eq!(b.get(b"c", b"")?, None);
    assert!(!b.exists(b"c", b"")?);
    let rows = b.get_many(b"c", &[b"t".to_vec(), b"x".to_vec(), b"k".to_vec()])?;
    assert_eq!(
        rows.to_pairs(),
        vec![
            (b"t".to_vec(), b"text".to_vec()),
            (b"k".to_vec(), Vec::new())
        ]
    );
    Ok(())
}

/// A lookup that fails reports SQLite's error and leaves its statement
/// usable; a dropped statement (lookup or scan) is finalized (the backend
/// drops its statements before its connection).
#[test]
fn point_lookups_report_errors_and_finalize() -> Result<()> {
    let mut b = mem()?;
    assert_eq!(b.get(b"c", b"k")?, None);
    b.conn.execute_batch("ALTER TABLE kv RENAME TO kv_away")?;
    let e = b.get(b"c", b"k").expect_err("the table is gone");
    assert_eq!(e.kind(), ErrorKind::Backend);
    assert!(e.to_string().contains("no such table"), "{e}");
    assert!(b.exists(b"c", b"k").is_err());
    b.conn.execute_batch("ALTER TABLE kv_away RENAME TO kv")?;
    b.begin()?;
    b.apply(&[Op::put("c", b"k".to_vec(), b"v".to_vec())])?;
    b.commit()?;
    assert_eq!(b.get(b"c", b"k")?, Some(b"v".to_vec()));
    assert!(b.exists(b"c", b"k")?);
    for (stop, reverse) in [(None, false), (None, true), (Some(&b"z"[..]), true)] {
        assert_eq!(b.scan(&range(b"", stop), reverse, 0)?.len(), 1);
    }
    b.stmts = Default::default();
    b.conn.flush_prepared_statement_cache();
    // SAFETY: the connection is live; `sqlite3_next_stmt` only reads its
    // list of statements.
    let left = unsafe { rusqlite::ffi::sqlite3_next_stmt(b.conn.handle(), std::ptr::null_mut()) };
    assert!(left.is_null(), "a lookup's statement outlived it");
    Ok(())
}
