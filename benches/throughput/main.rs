//! Throughput benchmark of libpersistency, driven through its C ABI exactly
//! as a host drives it (`extern "C"` callbacks, `void *user_data`), side by
//! side in one run with its baselines: raw SQLite through rusqlite (same
//! schema and upstream pragmas, prepared statements, explicit
//! transactions), the upstream per-operation design (a worker thread fed by
//! a channel, one autocommit transaction per write) and LMDB through heed.
//!
//! Every workload runs `reps` repetitions; inside each repetition the
//! library and its baselines run one after the other (round-robin, the
//! starting variant rotating per repetition), so every ratio is computed per
//! repetition from figures taken seconds apart, and the median of those
//! ratios is reported. No timing assertion is made: the goals are printed
//! as met or not, and `target/bench/results.json` keeps every figure.
//!
//! ```text
//! cargo bench --bench throughput              # full run (several minutes)
//! cargo bench --bench throughput -- --quick   # small sizes, 3 repetitions
//! ```
//!
//! Memory figures (flood, idle jobs) are taken in child processes (this
//! executable re-run with `--child ...`), whose `VmHWM` is not raised by the
//! workloads that ran before.
//!
//! The modules: `config` (sizes), `data` (keys and payloads), `lib_driver`
//! (the library through its C ABI), `baselines` (raw SQLite, the upstream
//! design, LMDB), `workloads` (one module per group of workloads),
//! `report` (tables, ratios, goals, JSON) and `machine` (/proc figures).

// Removed once the C exports are unsafe fns (issue 10).
// Every unsafe operation sits in an `unsafe` block with a `SAFETY` comment.
#![warn(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

mod baselines;
mod config;
mod data;
mod lib_driver;
mod machine;
mod report;
#[path = "../../tests/common/rng.rs"]
mod rng;
mod workloads;

use std::path::{Path, PathBuf};
use std::time::Instant;

use config::Command;
use data::Data;
use machine::machine;
use report::Report;
use workloads::{run_child, Bench};

/// The target directory this executable was built into
/// (`<target>/release/deps/throughput-*`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// A named group of workloads, selectable with `--only`.
type Group = (&'static str, fn(&mut Bench));

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let run = match Command::parse(&args) {
        Command::Child(args) => return run_child(&args),
        Command::Run(run) => run,
    };
    let config = &run.config;
    let out_dir = target_dir().join("bench");
    let scratch = out_dir.join("tmp");
    std::fs::create_dir_all(&scratch).expect("create target/bench/tmp");
    let machine = machine();
    println!(
        "libpersistency throughput ({} mode, {} repetitions); machine: {machine}",
        config.mode(),
        config.reps
    );
    println!("figures: median, min and max over repetitions; every variant of a workload runs once per repetition, round-robin");
    let started = Instant::now();
    let mut bench = Bench {
        config: config.clone(),
        data: Data::new(),
        scratch,
        report: Report::default(),
    };
    let groups: [Group; 6] = [
        ("writes", Bench::writes),
        ("durable", Bench::durable),
        ("reads", Bench::reads),
        ("flood", Bench::flood),
        ("idle", Bench::idle),
        ("busy", Bench::busy),
    ];
    for (name, workloads) in groups {
        if run.wants(name) {
            workloads(&mut bench);
        }
    }
    bench.report.print_goals();
    let elapsed = started.elapsed().as_secs_f64();
    let json = bench.report.to_json(config, &machine, elapsed);
    let path = out_dir.join("results.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json).expect("json"))
        .expect("write results");
    println!("\nwrote {} ({elapsed:.0} s)", path.display());
}
