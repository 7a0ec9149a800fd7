//! `metrics_text`: Prometheus text format 0.0.4, parsed by the
//! `prometheus_client` package, its counters equal to the job's stats.

use std::io::Write;
use std::process::{Command, Stdio};

use persistency::{ErrorKind, JobOptions, Op, Persistency, Stats};
use serde_json::Value;

use crate::{key, tmp};

/// The families of `text` as prometheus_client parses them.
fn parse(text: &str) -> Vec<Value> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/maintenance/parse_metrics.py"
    );
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (pip install prometheus_client; scripts/test.sh does)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("python3");
    assert!(
        out.status.success(),
        "the Prometheus parser refused the text (is prometheus_client installed?): {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    match serde_json::from_slice(&out.stdout).expect("json") {
        Value::Array(families) => families,
        other => panic!("not a list: {other}"),
    }
}

/// The value of the sample `name` with labels `labels`.
fn sample(families: &[Value], name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<f64> = families
        .iter()
        .flat_map(|f| f["samples"].as_array().expect("samples").iter())
        .filter(|s| s["name"] == name)
        .filter(|s| {
            let l = s["labels"].as_object().expect("labels");
            l.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k) == Some(&Value::from(*v)))
        })
        .map(|s| s["value"].as_f64().expect("number"))
        .collect();
    assert_eq!(found.len(), 1, "{name} {labels:?}: {found:?}");
    found[0]
}

fn family_type(families: &[Value], name: &str) -> String {
    families
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no family {name}"))["type"]
        .as_str()
        .expect("type")
        .to_string()
}

fn assert_matches(families: &[Value], job: &str, s: &Stats) {
    let l = [("job", job)];
    assert_eq!(
        sample(families, "persistency_ops_applied_total", &l),
        s.ops_applied as f64
    );
    assert_eq!(
        sample(families, "persistency_ops_failed_total", &l),
        s.ops_failed as f64
    );
    assert_eq!(
        sample(families, "persistency_transactions_total", &l),
        s.transactions as f64
    );
    assert_eq!(
        sample(families, "persistency_written_bytes_total", &l),
        s.bytes_written as f64
    );
    assert_eq!(
        sample(families, "persistency_reads_total", &l),
        s.reads as f64
    );
    assert_eq!(
        sample(families, "persistency_queue_depth_operations", &l),
        s.queued as f64
    );
    assert_eq!(
        sample(families, "persistency_file_size_bytes", &l),
        s.db_bytes as f64
    );
    assert_eq!(
        sample(families, "persistency_live_bytes", &l),
        s.live_bytes as f64
    );
    for kind in [ErrorKind::Full, ErrorKind::Backend, ErrorKind::Internal] {
        let label = match kind {
            ErrorKind::Full => "full",
            ErrorKind::Backend => "backend",
            _ => "internal",
        };
        assert_eq!(
            sample(
                families,
                "persistency_errors_total",
                &[("job", job), ("kind", label)]
            ),
            s.errors(kind) as f64
        );
    }
}

#[test]
fn text_parses_and_matches_the_stats() {
    let dir = tmp();
    let db = Persistency::new(&crate::common::root_in(dir.path())).expect("instance");
    let a = db.open_job("alpha").expect("job");
    let capped = db
        .open_job_with("capped", &JobOptions::default().max_db_bytes(64 * 1024))
        .expect("job");
    a.write(
        (0..10)
            .map(|i| Op::put("c", key(i), vec![1; 100]))
            .collect(),
    )
    .expect("write");
    a.put("c", b"k", b"v").expect("put");
    assert!(a.get("c", b"k").expect("get").is_some());
    a.count("c", b"", b"").expect("count");
    // One quota error.
    let err = capped
        .write(vec![Op::put("c", b"big".to_vec(), vec![0; 1 << 20])])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Full);
    a.flush().expect("flush");
    capped.flush().expect("flush");
    let (sa, sc) = (a.stats().expect("stats"), capped.stats().expect("stats"));
    let families = parse(&db.metrics_text().expect("metrics"));
    assert_eq!(family_type(&families, "persistency_ops_applied"), "counter");
    assert_eq!(family_type(&families, "persistency_errors"), "counter");
    assert_eq!(family_type(&families, "persistency_live_bytes"), "gauge");
    assert_eq!(
        family_type(&families, "persistency_file_size_bytes"),
        "gauge"
    );
    assert_matches(&families, "alpha", &sa);
    assert_matches(&families, "capped", &sc);
    assert_eq!(sa.ops_applied, 11);
    assert_eq!(sa.reads, 2);
    assert_eq!(sa.bytes_written, 10 * (8 + 100) + 2);
    assert_eq!(sc.errors(ErrorKind::Full), 1);
    assert!(sa.live_bytes > 0 && sa.live_bytes <= sa.db_bytes.max(sa.live_bytes));
    for f in &families {
        assert!(!f["help"].as_str().expect("help").is_empty(), "{f}");
    }
}

/// A blocking read on the caller's thread opens a read connection, which
/// the gauge shows (it stays open 2 to 3 s after its last use).
#[test]
fn read_connections_gauge_counts_the_read_pool() {
    let dir = tmp();
    let db = Persistency::new(&crate::common::root_in(dir.path())).expect("instance");
    let job = db.open_job("pooled").expect("job");
    let l = [("job", "pooled")];
    let families = parse(&db.metrics_text().expect("metrics"));
    assert_eq!(
        family_type(&families, "persistency_read_connections"),
        "gauge"
    );
    assert_eq!(sample(&families, "persistency_read_connections", &l), 0.0);
    job.put("m", b"k", b"v").expect("put");
    job.flush().expect("flush");
    assert_eq!(job.get("m", b"k").expect("get"), Some(b"v".to_vec()));
    let readers = job.stats().expect("stats").readers;
    let families = parse(&db.metrics_text().expect("metrics"));
    let shown = sample(&families, "persistency_read_connections", &l);
    if crate::common::skip_on_postgres("no read pool: reads go through the worker") {
        assert_eq!(shown, 0.0);
    } else {
        assert_eq!((readers, shown), (1, 1.0));
    }
}

#[test]
fn closed_jobs_leave_the_text_and_a_reset_instance_refuses() {
    let db = Persistency::new(":memory:").expect("instance");
    db.open_job("gone").expect("job");
    db.open_job("kept").expect("job");
    db.close_job("gone").expect("close");
    let text = db.metrics_text().expect("metrics");
    assert!(text.contains("job=\"kept\""));
    assert!(!text.contains("job=\"gone\""));
    let families = parse(&text);
    assert_eq!(
        sample(
            &families,
            "persistency_ops_applied_total",
            &[("job", "kept")]
        ),
        0.0
    );
    let empty = Persistency::new(":memory:").expect("instance");
    let families = parse(&empty.metrics_text().expect("metrics"));
    assert!(families
        .iter()
        .all(|f| f["samples"].as_array().expect("s").is_empty()));
}

/// A write refused because the queue is full counts as a `busy` error.
#[test]
fn refused_writes_count_by_kind() {
    let db = Persistency::new(":memory:").expect("instance");
    let job = db
        .open_job_with(
            "busy",
            &JobOptions::default()
                .queue_capacity(1)
                .full_policy(persistency::FullPolicy::Fail),
        )
        .expect("job");
    let gate = std::sync::Arc::new(std::sync::Mutex::new(()));
    let held = gate.lock().expect("lock");
    let g = gate.clone();
    // Hold the worker inside a callback; the queue then fills.
    job.flush_then(move |_| drop(g.lock().expect("lock")))
        .expect("flush");
    let mut busy = 0u64;
    for i in 0..3 {
        if let Err(e) = job.put("c", &key(i), b"v") {
            assert_eq!(e.kind(), ErrorKind::Busy);
            busy += 1;
        }
    }
    drop(held);
    // The flush itself may find the queue full until the worker drains it.
    loop {
        match job.flush() {
            Ok(()) => break,
            Err(e) if e.kind() == ErrorKind::Busy => busy += 1,
            Err(e) => panic!("flush: {e}"),
        }
    }
    assert!(busy >= 1, "the queue of 1 never filled");
    let stats = job.stats().expect("stats");
    assert_eq!(stats.errors(ErrorKind::Busy), busy);
    let families = parse(&db.metrics_text().expect("metrics"));
    assert_eq!(
        sample(
            &families,
            "persistency_errors_total",
            &[("job", "busy"), ("kind", "busy")]
        ),
        busy as f64
    );
}
