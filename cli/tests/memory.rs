//! The memory bound of export: 10^6 rows under 64 MiB of peak RSS.
//!
//! The peak is the child's `ru_maxrss` from `wait4`. On Linux a child
//! spawned with `posix_spawn` (which shares the parent's memory until its
//! `exec`) inherits the parent's high-water mark, so a test process that
//! holds megabytes of its own would be measured too. The test therefore
//! re-runs this test binary as a small helper process that spawns the
//! command and reports its peak; the figure includes the helper's few
//! MiB, an upper bound.

mod common;

use std::process::Stdio;

use common::{root, upstream_job};

const HELPER: &str = "PERSISTENCY_CLI_MEASURE";

/// The child's exit code and peak resident set in KiB, from `wait4`.
// The child is reaped by `wait4` below, which `Child::wait` would hide.
#[allow(clippy::zombie_processes)]
fn run_measured(mut command: std::process::Command) -> (i32, i64) {
    let child = command.spawn().unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: all-zero bytes are a valid `rusage`, which wait4 fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own unwaited child; `status` and `usage` are
    // valid, exclusively borrowed out-parameters for the call.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid, "wait4: {}", std::io::Error::last_os_error());
    (libc::WEXITSTATUS(status), usage.ru_maxrss)
}

#[test]
#[ignore = "a helper: run by exporting_a_million_rows_stays_under_64_mib in a fresh process"]
fn measure_export_helper() {
    let spec = std::env::var(HELPER).expect("run only by the memory test");
    let (root, out) = spec.split_once('\n').expect("root and output path");
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("persistency"));
    command
        .args(["export", root, "big"])
        .stdout(std::fs::File::create(out).unwrap())
        .stderr(Stdio::null());
    let (code, peak_kib) = run_measured(command);
    println!("MEASURED {code} {peak_kib}");
}

#[test]
fn exporting_a_million_rows_stays_under_64_mib() {
    let (dir, root) = root();
    upstream_job(&root, "big", 1_000_000);
    let out = dir.path().join("rows.jsonl");
    let helper = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "measure_export_helper",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HELPER, format!("{root}\n{}", out.display()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&helper.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("MEASURED ").map(|(_, rest)| rest))
        .unwrap_or_else(|| {
            panic!(
                "no measurement: {stdout} {}",
                String::from_utf8_lossy(&helper.stderr)
            )
        });
    let mut fields = line.split_whitespace();
    let (code, peak_kib) = (fields.next().unwrap(), fields.next().unwrap());
    assert_eq!(code, "0", "export failed");
    let peak_kib: i64 = peak_kib.parse().unwrap();
    let text = std::fs::read(&out).unwrap();
    assert_eq!(text.iter().filter(|&&b| b == b'\n').count(), 1_000_000);
    assert!(peak_kib < 64 * 1024, "peak RSS {peak_kib} KiB");
    eprintln!("export of 10^6 rows: peak RSS {peak_kib} KiB (with the helper's)");
}
