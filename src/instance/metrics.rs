//! The instance's figures in the Prometheus text exposition format
//! (version 0.0.4): one series per open job, labelled `job`.

use std::fmt::Write;

use super::Persistency;
use crate::error::{ErrorKind, Result};
use crate::job::Stats;

/// One metric family: name, type, help and how to read it from the stats.
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    value: fn(&Stats) -> u64,
}

const FAMILIES: &[Family] = &[
    Family {
        name: "persistency_ops_applied_total",
        kind: "counter",
        help: "Write operations committed (a batch of n operations counts n).",
        value: |s| s.ops_applied,
    },
    Family {
        name: "persistency_ops_failed_total",
        kind: "counter",
        help: "Write operations that failed.",
        value: |s| s.ops_failed,
    },
    Family {
        name: "persistency_transactions_total",
        kind: "counter",
        help: "Commits that carried writes.",
        value: |s| s.transactions,
    },
    Family {
        name: "persistency_written_bytes_total",
        kind: "counter",
        help: "Bytes of keys and payloads of committed puts.",
        value: |s| s.bytes_written,
    },
    Family {
        name: "persistency_reads_total",
        kind: "counter",
        help: "Read requests served.",
        value: |s| s.reads,
    },
    Family {
        name: "persistency_queue_depth_operations",
        kind: "gauge",
        help: "Operations waiting in the job's queue.",
        value: |s| s.queued,
    },
    Family {
        name: "persistency_file_size_bytes",
        kind: "gauge",
        help: "Bytes of the job's files (database plus write-ahead log).",
        value: |s| s.db_bytes,
    },
    Family {
        name: "persistency_live_bytes",
        kind: "gauge",
        help: "Bytes of the database pages in use (pages in use times page size).",
        value: |s| s.live_bytes,
    },
    Family {
        name: "persistency_read_connections",
        kind: "gauge",
        help: "Read-only connections open in the job's read pool (idle ones close after 2 to 3 s).",
        value: |s| s.readers,
    },
    Family {
        name: "persistency_sync_memory_elements",
        kind: "gauge",
        help: "Elements of the job's sync sets held in memory (at most 2^20 per job).",
        value: |s| s.sync_elements_in_memory,
    },
];

/// The label value of an error kind: its name in snake case.
fn kind_label(kind: ErrorKind) -> String {
    let mut label = String::new();
    for (i, c) in format!("{kind:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            label.push('_');
        }
        label.push(c.to_ascii_lowercase());
    }
    label
}

/// A label value escaped as the text format requires.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Persistency {
    /// The figures of every open job in the Prometheus text exposition
    /// format (version 0.0.4): counters of write operations applied and
    /// failed, transactions, bytes written, reads and errors by kind;
    /// gauges of queue depth, file size, live bytes and read connections. Every series has a
    /// `job` label; each family has `# HELP` and `# TYPE` lines. The values
    /// are those of [`Job::stats`](crate::Job::stats): they start at zero
    /// when a job is opened (a reopened job restarts its counters, which
    /// Prometheus treats as a counter reset).
    ///
    /// ```
    /// let db = persistency::Persistency::new(":memory:")?;
    /// db.open_job("chat")?.write(vec![persistency::Op::put("c", b"k".to_vec(), b"v".to_vec())])?;
    /// let text = db.metrics_text()?;
    /// assert!(text.contains("persistency_ops_applied_total{job=\"chat\"} 1\n"));
    /// # Ok::<(), persistency::Error>(())
    /// ```
    pub fn metrics_text(&self) -> Result<String> {
        self.check_live()?;
        let mut ids = self.job_ids();
        ids.sort();
        let jobs: Vec<(String, Stats)> = ids
            .into_iter()
            .filter_map(|id| {
                let stats = self.find_job(&id).and_then(|job| job.stats()).ok()?;
                Some((escape(&id), stats))
            })
            .collect();
        let mut out = String::new();
        for family in FAMILIES {
            let _ = writeln!(out, "# HELP {} {}", family.name, family.help);
            let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind);
            for (job, stats) in &jobs {
                let _ = writeln!(
                    out,
                    "{}{{job=\"{job}\"}} {}",
                    family.name,
                    (family.value)(stats)
                );
            }
        }
        let name = "persistency_errors_total";
        let _ = writeln!(
            out,
            "# HELP {name} Failed requests (and fire-and-forget operations) by error kind."
        );
        let _ = writeln!(out, "# TYPE {name} counter");
        for (job, stats) in &jobs {
            for &kind in ErrorKind::ALL {
                let _ = writeln!(
                    out,
                    "{name}{{job=\"{job}\",kind=\"{}\"}} {}",
                    kind_label(kind),
                    stats.errors(kind)
                );
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(kind_label(ErrorKind::InvalidArgument), "invalid_argument");
        assert_eq!(kind_label(ErrorKind::Full), "full");
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
