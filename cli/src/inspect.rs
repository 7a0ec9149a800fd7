//! The reading commands: jobs, stat, scan, get.

use std::io::{BufWriter, Write};

use persistency::{format_key, JobReader, ReadRange};
use serde_json::{json, Value};

use crate::show::{self, hex};
use crate::{open_reader, parse_key_arg, Failure, PayloadFormat};

/// A write error on stdout: a closed pipe (`| head`) ends quietly.
pub fn stdout_failed(e: std::io::Error) -> Failure {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    Failure::failed(format!(
        "cannot write to stdout: {e}; check the output file or pipe"
    ))
}

fn print(text: &str) -> Result<(), Failure> {
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(stdout_failed)
}

fn read_failed(reader: &JobReader, e: &persistency::Error) -> Failure {
    Failure::failed(format!(
        "{}: {}; check that the file is readable and not damaged",
        reader.path().display(),
        e.message()
    ))
}

/// `jobs ROOT`: one line (or JSON object) per job file.
pub fn jobs(root: &str, json: bool) -> Result<(), Failure> {
    let ids = persistency::job_ids(root)
        .map_err(|e| Failure::from_lib(&e, "give the root directory the node was started with"))?;
    let mut rows = Vec::new();
    let mut skipped = 0;
    for id in &ids {
        let summary = open_reader(root, id).and_then(|reader| {
            let facts = reader.facts().map_err(|e| read_failed(&reader, &e))?;
            let cats = reader.categories().map_err(|e| read_failed(&reader, &e))?;
            Ok((facts, cats))
        });
        match summary {
            Ok((facts, cats)) => rows.push((id, facts, cats)),
            Err(f) => {
                eprintln!("persistency: skipped {id}: {}", f.message);
                skipped += 1;
            }
        }
    }
    if json {
        let list: Vec<Value> = rows
            .iter()
            .map(|(id, f, cats)| {
                json!({
                    "job": id,
                    "rows": cats.iter().map(|c| c.rows).sum::<u64>(),
                    "categories": cats.len(),
                    "file_bytes": f.file_bytes,
                    "wal_bytes": f.wal_bytes,
                    "live_bytes": f.live_bytes,
                    "modified": show::time(f.modified),
                })
            })
            .collect();
        print(&format!("{}\n", Value::Array(list)))?;
    } else {
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|(id, f, cats)| {
                vec![
                    id.to_string(),
                    cats.iter().map(|c| c.rows).sum::<u64>().to_string(),
                    cats.len().to_string(),
                    f.file_bytes.to_string(),
                    f.wal_bytes.to_string(),
                    f.live_bytes.to_string(),
                    show::time(f.modified),
                ]
            })
            .collect();
        let header = [
            "JOB",
            "ROWS",
            "CATEGORIES",
            "FILE",
            "WAL",
            "LIVE",
            "MODIFIED",
        ];
        print(&show::table(&header, &cells, &[1, 2, 3, 4, 5]))?;
    }
    if skipped > 0 {
        return Err(Failure::failed(format!(
            "{skipped} job file(s) under {root} could not be read (see above)"
        )));
    }
    Ok(())
}

/// `stat ROOT JOB`: one line (or JSON object) per category.
pub fn stat(root: &str, job: &str, json: bool) -> Result<(), Failure> {
    let reader = open_reader(root, job)?;
    let cats = reader.categories().map_err(|e| read_failed(&reader, &e))?;
    if json {
        let list: Vec<Value> = cats
            .iter()
            .map(|c| {
                json!({
                    "category": show::category(&c.category),
                    "rows": c.rows,
                    "key_bytes": c.key_bytes,
                    "payload_bytes": c.payload_bytes,
                    "min_key": format_key(&c.min_key),
                    "max_key": format_key(&c.max_key),
                    "min_key_hex": hex(&c.min_key),
                    "max_key_hex": hex(&c.max_key),
                })
            })
            .collect();
        let doc =
            json!({ "job": job, "file": reader.path().display().to_string(), "categories": list });
        return print(&format!("{doc}\n"));
    }
    let cells: Vec<Vec<String>> = cats
        .iter()
        .map(|c| {
            vec![
                show::category(&c.category),
                c.rows.to_string(),
                c.key_bytes.to_string(),
                c.payload_bytes.to_string(),
                format_key(&c.min_key),
                format_key(&c.max_key),
            ]
        })
        .collect();
    let header = [
        "CATEGORY",
        "ROWS",
        "KEY_BYTES",
        "PAYLOAD_BYTES",
        "MIN_KEY",
        "MAX_KEY",
    ];
    print(&show::table(&header, &cells, &[1, 2, 3]))
}

/// `scan`: category, decoded key and payload of each row, tab-separated.
pub fn scan(
    root: &str,
    job: &str,
    range: &ReadRange,
    payload: PayloadFormat,
) -> Result<(), Failure> {
    let reader = open_reader(root, job)?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut write_error = None;
    let result = reader.scan(range, |category, key, value| {
        let mut line = format!("{}\t{}\t", show::category(category), format_key(key)).into_bytes();
        match payload {
            PayloadFormat::Raw => line.extend_from_slice(value),
            format => line.extend_from_slice(show::payload(value, format).as_bytes()),
        }
        line.push(b'\n');
        match out.write_all(&line) {
            Ok(()) => Ok(true),
            Err(e) => {
                write_error = Some(e);
                Ok(false)
            }
        }
    });
    if let Some(e) = write_error {
        return Err(stdout_failed(e));
    }
    result.map_err(|e| read_failed(&reader, &e))?;
    out.flush().map_err(stdout_failed)
}

/// `get`: the payload of one key.
pub fn get(
    root: &str,
    job: &str,
    category: &str,
    key: &str,
    payload: PayloadFormat,
) -> Result<(), Failure> {
    let bytes = parse_key_arg("KEY", key)?;
    let reader = open_reader(root, job)?;
    let mut successor = bytes.clone();
    successor.push(0);
    let range = ReadRange::new()
        .category(category)
        .start(&bytes)
        .stop(&successor)
        .limit(1);
    let mut found = None;
    reader
        .scan(&range, |_, _, value| {
            found = Some(value.to_vec());
            Ok(false)
        })
        .map_err(|e| read_failed(&reader, &e))?;
    let Some(value) = found else {
        return Err(Failure::failed(format!(
            "{}: no key {} in category {category:?}; list the keys with `persistency scan {root} {job} --category {category}`",
            reader.path().display(),
            format_key(&bytes)
        )));
    };
    match payload {
        PayloadFormat::Raw => std::io::stdout()
            .lock()
            .write_all(&value)
            .map_err(stdout_failed),
        format => print(&format!("{}\n", show::payload(&value, format))),
    }
}
