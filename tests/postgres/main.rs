//! The PostgreSQL backend across processes and server faults. Runs only
//! with `PERSISTENCY_TEST_POSTGRES` set (`scripts/test-postgres.sh` starts a
//! throw-away cluster and sets it); without it each test says it skipped.
//!
//! - `fencing`: a job held by one process is refused to another with
//!   `InvalidArgument`; two processes write different jobs of one schema
//!   at full speed; a holder's death frees the job.
//! - `kill`: a child writes acknowledged batches and is killed with
//!   SIGKILL; this process then opens the job and finds every acknowledged
//!   batch, none torn (≥ 20 cycles).
//! - `restart`: the server is restarted (`pg_ctl restart -m immediate`,
//!   the command in `PERSISTENCY_TEST_PG_RESTART`) under a write load:
//!   clear errors, reconnection, no acknowledged write lost.
//!
//! The children are this binary, re-executed with `PG_CHILD` set, running
//! the ignored test `child` (which does nothing without it).

#[path = "../common/mod.rs"]
mod common;

mod fencing;
mod kill;
mod restart;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

use persistency::{JobOptions, Op, Persistency, Synchronous};

/// What a child does: `hold <job>` (open, say READY, wait for stdin to
/// close), `write <job> <batches>` (write, say DONE), `crash <job>`
/// (write batches forever, saying ACK for each).
const CHILD_ENV: &str = "PG_CHILD";
const ROOT_ENV: &str = "PG_CHILD_ROOT";

/// The root of this run's tests: `None` (and a note) without PostgreSQL.
fn root() -> Option<String> {
    if common::postgres().is_none() {
        eprintln!(
            "skipped: set {} to run the PostgreSQL tests",
            common::POSTGRES_ENV
        );
        return None;
    }
    Some(common::scratch_root())
}

/// The rows of batch `id`: `n` rows and a marker naming `n`, so a torn
/// batch shows.
fn batch(id: u64) -> Vec<Op> {
    let n = 1 + id % 7;
    let mut ops: Vec<Op> = (0..n)
        .map(|j| {
            Op::put(
                "rows",
                format!("{id:010}/{j}").into_bytes(),
                vec![(id + j) as u8; 10 + (j as usize * 300)],
            )
        })
        .collect();
    ops.push(Op::put(
        "marks",
        format!("{id:010}").into_bytes(),
        n.to_be_bytes().to_vec(),
    ));
    ops
}

/// Checks that batch `id` is whole in `job`: `Some(true)` present,
/// `Some(false)` absent, `None` torn.
fn batch_state(job: &persistency::Job, id: u64) -> persistency::Result<Option<bool>> {
    let n = 1 + id % 7;
    let mark = job.get("marks", format!("{id:010}").as_bytes())?;
    // The rows `<id>/…`: from `<id>/` up to `<id>0` ('0' follows '/').
    let rows = job.count(
        "rows",
        format!("{id:010}/").as_bytes(),
        format!("{id:010}0").as_bytes(),
    )?;
    Ok(match mark {
        Some(m) if m == n.to_be_bytes() && rows == n => Some(true),
        None if rows == 0 => Some(false),
        _ => None,
    })
}

fn options() -> JobOptions {
    JobOptions::default()
        .synchronous(Synchronous::Full)
        .queue_capacity(512)
}

/// Writes a line to stdout and flushes it at once.
fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// Starts this binary as a child doing `what` on `root`.
fn spawn_child(root: &str, what: &str) -> Child {
    Command::new(std::env::current_exe().expect("current_exe"))
        .args([
            "--exact",
            "child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
            "-q",
        ])
        .env(CHILD_ENV, what)
        .env(ROOT_ENV, root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child")
}

/// The next line a child says (empty at its end), past the test
/// harness's own lines.
fn next_line(reader: &mut impl BufRead) -> String {
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return String::new();
        }
        let line = line.trim();
        if line.starts_with(|c: char| c.is_ascii_uppercase()) {
            return line.to_string();
        }
    }
}

#[test]
#[ignore = "child process of the PostgreSQL tests; does nothing when run directly"]
fn child() {
    let (Ok(what), Ok(root)) = (std::env::var(CHILD_ENV), std::env::var(ROOT_ENV)) else {
        return;
    };
    let words: Vec<&str> = what.split(' ').collect();
    let db = Persistency::new(&root).expect("child: instance");
    let job = match db.open_job_with(words[1], &options()) {
        Ok(job) => job,
        Err(e) => {
            say(&format!("REFUSED {:?} {e}", e.kind()));
            return;
        }
    };
    match words[0] {
        "hold" => {
            say("READY");
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
        }
        "write" => {
            let batches: u64 = words[2].parse().expect("batches");
            say("READY");
            for id in 0..batches {
                job.write_then(batch(id), |r| r.expect("child: batch"))
                    .expect("child: queue");
            }
            job.flush().expect("child: flush");
            say("DONE");
        }
        "crash" => {
            let mut id: u64 = words[2].parse().expect("first id");
            say("READY");
            let window = Window::new(WINDOW);
            loop {
                let token = window.take();
                let ack = move |r: persistency::Result<()>| {
                    if r.is_ok() {
                        say(&format!("ACK {id}"));
                    }
                    drop(token);
                };
                if job.write_then(batch(id), ack).is_err() {
                    return;
                }
                id += 1;
            }
        }
        other => panic!("unknown child action {other}"),
    }
    db.close().expect("child: close");
}

/// Batches a writer keeps unacknowledged at most: a writer that queued
/// without bound would keep the worker's group (and its commit) growing.
const WINDOW: usize = 64;

/// A bound on writes in flight: [`Window::take`] waits for a free slot,
/// given back when its token drops (in the write's callback).
struct Window {
    tokens: std::sync::mpsc::Receiver<()>,
    giver: std::sync::mpsc::SyncSender<()>,
}

/// A slot of a [`Window`], freed when dropped.
struct Token(std::sync::mpsc::SyncSender<()>);

impl Drop for Token {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

impl Window {
    fn new(size: usize) -> Window {
        let (giver, tokens) = std::sync::mpsc::sync_channel(size);
        for _ in 0..size {
            giver.send(()).expect("fill");
        }
        Window { tokens, giver }
    }

    fn take(&self) -> Token {
        self.tokens.recv().expect("token");
        Token(self.giver.clone())
    }
}

/// Reads the rest of a child's stdout on a thread: the lines it said.
fn collect_lines(
    out: BufReader<std::process::ChildStdout>,
) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || out.lines().map_while(Result::ok).collect())
}

/// A child that is killed if the test ends (or panics) before it did.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
