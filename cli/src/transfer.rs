//! `export` and `import`: rows as JSON lines, streamed in constant memory.
//!
//! A line is `{"category":B,"key":B,"payload":B}` with each B the bytes in
//! standard base64; `export --hex` writes `category_hex`, `key_hex` and
//! `payload_hex` instead. An element of a sync set is a line
//! `{"sync_set":B,"time":N,"hash":B}` (`sync_set_hex`, `hash_hex`), the
//! time an integer: the set's aggregates are not exported, `import` adds
//! the elements back and the library rebuilds them. `import` accepts
//! either form for each field.

use std::io::{BufRead, BufWriter, IsTerminal, Write};
use std::os::fd::AsFd;

use indicatif::ProgressBar;
use persistency::{ErrorKind, Job, Op, Persistency, ReadRange, ReservedRow, SyncId, HASH_LEN};
use serde_json::Value;

use crate::bar::{progress, Unit};
use crate::inspect::stdout_failed;
use crate::show::{base64, from_base64, from_hex, hex};
use crate::{open_reader, Failure};

/// `export ROOT JOB [--category C] [--hex]`.
pub fn export(
    root: &str,
    job: &str,
    category: Option<&str>,
    as_hex: bool,
    quiet: bool,
) -> Result<(), Failure> {
    let reader = open_reader(root, job)?;
    let mut range = ReadRange::new();
    if let Some(c) = category {
        range = range.category(c);
    }
    let bar = if quiet || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        let cats = reader.categories().map_err(|e| {
            Failure::failed(format!(
                "{}: {}; check that the file is readable",
                reader.path().display(),
                e.message()
            ))
        })?;
        let total = cats
            .iter()
            .filter(|c| category.is_none_or(|want| c.category == want.as_bytes()))
            .map(|c| c.rows)
            .sum();
        progress(quiet, Some(total), Unit::Rows, "export")
    };
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut write_error = None;
    let mut line = String::new();
    let mut pending = 0u64;
    let mut unknown = 0u64;
    let result = reader.scan(&range, |c, k, p| {
        line.clear();
        pending += 1;
        if pending == 1024 {
            bar.inc(pending);
            pending = 0;
        }
        match persistency::reserved_row(c, k) {
            None => {}
            Some(ReservedRow::SyncElement { set, id }) => {
                line.push_str(&sync_line(set, &id, as_hex));
                if let Err(e) = out.write_all(line.as_bytes()) {
                    write_error = Some(e);
                    return Ok(false);
                }
                return Ok(true);
            }
            Some(ReservedRow::SyncAggregate { .. }) => return Ok(true),
            Some(ReservedRow::Unknown) => {
                unknown += 1;
                return Ok(true);
            }
        }
        if as_hex {
            line.push_str(&format!(
                "{{\"category_hex\":\"{}\",\"key_hex\":\"{}\",\"payload_hex\":\"{}\"}}\n",
                hex(c),
                hex(k),
                hex(p)
            ));
        } else {
            line.push_str(&format!(
                "{{\"category\":\"{}\",\"key\":\"{}\",\"payload\":\"{}\"}}\n",
                base64(c),
                base64(k),
                base64(p)
            ));
        }
        if let Err(e) = out.write_all(line.as_bytes()) {
            write_error = Some(e);
            return Ok(false);
        }
        Ok(true)
    });
    bar.inc(pending);
    if let Some(e) = write_error {
        bar.abandon();
        return Err(stdout_failed(e));
    }
    let rows = result.map_err(|e| {
        Failure::failed(format!(
            "{}: {}; check that the file is readable and not damaged",
            reader.path().display(),
            e.message()
        ))
    })?;
    out.flush().map_err(stdout_failed)?;
    bar.finish_and_clear();
    if unknown > 0 {
        eprintln!(
            "persistency: warning: {}: {unknown} rows of reserved categories this version does \
             not know were not exported (written by a later version of the library?); export \
             with that version",
            reader.path().display()
        );
    }
    if !quiet && std::io::stderr().is_terminal() {
        eprintln!("exported {rows} rows from {}", reader.path().display());
    }
    Ok(())
}

/// The export line of a sync set's element.
fn sync_line(set: &[u8], id: &SyncId, as_hex: bool) -> String {
    if as_hex {
        format!(
            "{{\"sync_set_hex\":\"{}\",\"time\":{},\"hash_hex\":\"{}\"}}\n",
            hex(set),
            id.time,
            hex(&id.hash)
        )
    } else {
        format!(
            "{{\"sync_set\":\"{}\",\"time\":{},\"hash\":\"{}\"}}\n",
            base64(set),
            id.time,
            base64(&id.hash)
        )
    }
}

/// The set and element of an import line that has a `sync_set` (or
/// `sync_set_hex`) field.
fn sync_element(line: &Value) -> Result<(Vec<u8>, SyncId), String> {
    let set = field(line, "sync_set")?;
    let time = line
        .get("time")
        .ok_or("no \"time\" field (an integer, nanoseconds)")?
        .as_i64()
        .ok_or("\"time\" is not an integer that fits in 64 bits")?;
    let hash = field(line, "hash")?;
    let hash: [u8; HASH_LEN] = hash
        .try_into()
        .map_err(|h: Vec<u8>| format!("\"hash\" has {} bytes, not {HASH_LEN}", h.len()))?;
    Ok((set, SyncId::new(time, hash)))
}

/// One field of an import line: base64 under `name`, or hex under
/// `name_hex`.
fn field(line: &Value, name: &str) -> Result<Vec<u8>, String> {
    if let Some(v) = line.get(name) {
        let text = v.as_str().ok_or(format!("\"{name}\" is not a string"))?;
        return from_base64(text).ok_or(format!("\"{name}\" is not base64"));
    }
    let hex_name = format!("{name}_hex");
    if let Some(v) = line.get(&hex_name) {
        let text = v
            .as_str()
            .ok_or(format!("\"{hex_name}\" is not a string"))?;
        return from_hex(text).ok_or(format!("\"{hex_name}\" is not hex"));
    }
    Err(format!("no \"{name}\" (base64) or \"{hex_name}\" field"))
}

/// `import ROOT JOB [--batch N]`: JSON lines from stdin into the job.
pub fn import(root: &str, job: &str, batch: u32, quiet: bool) -> Result<(), Failure> {
    let path = persistency::job_path(root, job).map_err(|e| {
        Failure::from_lib(
            &e,
            "give an existing root directory (create it with mkdir) and a job id",
        )
    })?;
    let shown = path.display().to_string();
    match persistency::job_holder(root, job) {
        Ok(None) => {}
        Ok(Some(pid)) => {
            return Err(Failure::failed(format!(
                "{shown} is open in process {pid} (a running node?); refused: stop that \
                 process, then run the import again (reading commands such as export \
                 work while it runs)"
            )))
        }
        Err(e) => {
            return Err(Failure::from_lib(
                &e,
                "check the permissions of the job's -shm file",
            ))
        }
    }
    let db = Persistency::new(root)
        .map_err(|e| Failure::from_lib(&e, &format!("check the root directory {root}")))?;
    let handle = db.open_job(job).map_err(|e| {
        let hint = match e.kind() {
            ErrorKind::Backend => {
                "the file is not a job file of this library; import into another job id"
            }
            _ => "check the file and its permissions",
        };
        Failure::from_lib(&e, &format!("{shown}: {hint}"))
    })?;
    // A regular file on stdin has a size: the bar then has an ETA.
    let stdin_size = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .ok()
        .and_then(|fd| std::fs::File::from(fd).metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len());
    let bar = progress(quiet, stdin_size, Unit::Bytes, "import");
    let mut bytes_read = 0u64;
    let mut batch_of = Batches {
        job: &handle,
        shown: &shown,
        size: batch as usize,
        ops: Vec::with_capacity(batch as usize),
        set: Vec::new(),
        ids: Vec::new(),
        rows: 0,
    };
    let mut line_no = 0;
    for line in std::io::stdin().lock().lines() {
        line_no += 1;
        let line =
            line.map_err(|e| Failure::failed(format!("reading stdin line {line_no}: {e}")))?;
        bytes_read += line.len() as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |why: String| {
            Failure::usage(format!(
                "stdin line {line_no}: {why}; each line must be a JSON object as `persistency \
                 export` writes ({{\"category\":…,\"key\":…,\"payload\":…}}, base64, or \
                 {{\"sync_set\":…,\"time\":…,\"hash\":…}} for a sync set's element); nothing \
                 from this line on was imported into {shown}"
            ))
        };
        let value: Value =
            serde_json::from_str(&line).map_err(|e| bad(format!("not JSON ({e})")))?;
        let full = if value.get("sync_set").is_some() || value.get("sync_set_hex").is_some() {
            let (set, id) = sync_element(&value).map_err(bad)?;
            batch_of.add(set, id, line_no)?
        } else {
            let (c, k, p) = (
                field(&value, "category").map_err(bad)?,
                field(&value, "key").map_err(bad)?,
                field(&value, "payload").map_err(bad)?,
            );
            batch_of.put(Op::put(c, k, p), line_no)?
        };
        if full {
            bar.set_position(bytes_read);
        }
    }
    batch_of.flush(line_no)?;
    let rows = batch_of.rows;
    bar.set_position(bytes_read);
    db.close().map_err(|e| {
        Failure::from_lib(
            &e,
            &format!("{shown}: closing the job failed; run the import again"),
        )
    })?;
    bar.finish_and_clear();
    if !quiet && std::io::stderr().is_terminal() {
        eprintln!("imported {rows} rows into {shown}");
    }
    Ok(())
}

/// The pending writes of an import, in stdin order: puts, or the elements
/// of one sync set; each batch is written (and acknowledged) whole.
struct Batches<'a> {
    job: &'a Job,
    shown: &'a str,
    size: usize,
    ops: Vec<Op>,
    set: Vec<u8>,
    ids: Vec<SyncId>,
    rows: u64,
}

impl Batches<'_> {
    /// Queues a put; writes the batch when it is full (returns true then).
    fn put(&mut self, op: Op, line_no: usize) -> Result<bool, Failure> {
        if !self.ids.is_empty() {
            self.flush(line_no - 1)?;
        }
        self.ops.push(op);
        self.full(line_no)
    }

    /// Queues a sync set's element; as `put`.
    fn add(&mut self, set: Vec<u8>, id: SyncId, line_no: usize) -> Result<bool, Failure> {
        if !self.ops.is_empty() || (!self.ids.is_empty() && self.set != set) {
            self.flush(line_no - 1)?;
        }
        self.set = set;
        self.ids.push(id);
        self.full(line_no)
    }

    fn full(&mut self, line_no: usize) -> Result<bool, Failure> {
        let full = self.ops.len() + self.ids.len() >= self.size;
        if full {
            self.flush(line_no)?;
        }
        Ok(full)
    }

    /// Writes what is pending, the last line of which is `line_no`.
    fn flush(&mut self, line_no: usize) -> Result<(), Failure> {
        let written = if !self.ops.is_empty() {
            let ops = std::mem::replace(&mut self.ops, Vec::with_capacity(self.size));
            let n = ops.len() as u64;
            self.job.write(ops).map(|()| n)
        } else if !self.ids.is_empty() {
            let n = self.ids.len() as u64;
            let result = self.job.sync_add_acked(&self.set, &self.ids).map(|_| n);
            self.ids.clear();
            result
        } else {
            return Ok(());
        };
        self.rows += written.map_err(|e| {
            Failure::failed(format!(
                "{}: writing the batch ending at stdin line {line_no}: {}; the batches \
                 before it are committed, so fix the cause and import the lines from the start \
                 of this batch on",
                self.shown,
                e.message()
            ))
        })?;
        Ok(())
    }
}
