//! The command line, and the sizes of a run: the fixed shapes of every
//! workload, and the counts of the full and the quick mode.

pub const KEY_LEN: usize = 32;
pub const PAYLOAD_LEN: usize = 256;
pub const BATCH: usize = 1_000;
pub const IN_FLIGHT: usize = 1_000;
pub const SCAN_ROWS: usize = 10_000;
pub const PAGE_ROWS: usize = 1_000;
pub const MIX_THREADS: usize = 4;
pub const CATEGORY: &str = "msgs";
/// Bytes a queued put holds beyond its key, payload and category: the
/// request itself, three `Vec` headers and allocator rounding.
pub const QUEUED_OP_OVERHEAD: u64 = 128;
pub const FLOOD_SLACK_MIB: f64 = 32.0;
pub const IDLE_GOAL_KIB: f64 = 256.0;

/// The sizes of one run.
#[derive(Debug, Clone)]
pub struct Config {
    pub quick: bool,
    pub reps: usize,
    /// Rows inserted by each writer of workloads 1 and 2.
    pub puts: usize,
    /// Rows of the durable-batch workload.
    pub durable_rows: usize,
    /// Rows of the table the reads run against.
    pub table_rows: usize,
    pub seq_gets: usize,
    pub pipelined_gets: usize,
    pub many_rounds: usize,
    /// Scans of 10k rows per variant and repetition (workloads 7 and 12).
    /// 100 in full mode: at 20 a sample lasted ~0.13 s on a 2-vCPU VM and
    /// one preemption moved its ratio by 0.3.
    pub scans: usize,
    pub mix_ops_per_thread: usize,
    pub flood: usize,
    pub idle_jobs: usize,
    pub busy_puts: usize,
}

impl Config {
    pub fn full() -> Config {
        Config {
            quick: false,
            reps: 5,
            puts: 200_000,
            durable_rows: 50_000,
            table_rows: 100_000,
            seq_gets: 20_000,
            pipelined_gets: 50_000,
            many_rounds: 50,
            scans: 100,
            mix_ops_per_thread: 10_000,
            flood: 2_000_000,
            idle_jobs: 64,
            busy_puts: 50_000,
        }
    }

    pub fn quick() -> Config {
        Config {
            quick: true,
            reps: 3,
            puts: 10_000,
            durable_rows: 5_000,
            table_rows: 20_000,
            seq_gets: 2_000,
            pipelined_gets: 10_000,
            many_rounds: 10,
            scans: 5,
            mix_ops_per_thread: 1_000,
            flood: 100_000,
            idle_jobs: 16,
            busy_puts: 10_000,
        }
    }

    /// "quick" or "full".
    pub fn mode(&self) -> &'static str {
        if self.quick {
            "quick"
        } else {
            "full"
        }
    }
}

/// What the command line asks for. Other arguments (such as the `--bench`
/// that cargo passes) are ignored.
pub enum Command {
    /// `--child KIND N DIR`: one measurement in this process, for a parent
    /// run (see `workloads::run_child`).
    Child(Vec<String>),
    /// A run of the workloads.
    Run(Run),
}

/// A run: `--quick` for the quick sizes, `--only a,b` for some groups of
/// workloads only (for profiling).
pub struct Run {
    pub config: Config,
    only: Option<Vec<String>>,
}

impl Command {
    pub fn parse(args: &[String]) -> Command {
        if let Some(i) = args.iter().position(|a| a == "--child") {
            return Command::Child(args[i + 1..].to_vec());
        }
        let config = if args.iter().any(|a| a == "--quick") {
            Config::quick()
        } else {
            Config::full()
        };
        let only = args
            .iter()
            .position(|a| a == "--only")
            .and_then(|i| args.get(i + 1))
            .map(|s| s.split(',').map(str::to_string).collect());
        Command::Run(Run { config, only })
    }
}

impl Run {
    /// Whether the group of workloads `group` is to run.
    pub fn wants(&self, group: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|g| g == group))
    }
}
