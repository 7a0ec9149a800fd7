//! `persistency`: look inside a node's job files, and move rows in and out.
//!
//! Reading commands (`jobs`, `stat`, `scan`, `get`, `export`) open job files
//! read-only through [`persistency::JobReader`]: they work next to a running
//! node. `import` writes through the library's own write path and refuses a
//! job that another process has open. Exit codes: 0 ok, 1 the operation
//! failed, 2 a usage error (bad arguments, bad key notation, missing root).

mod bar;
mod inspect;
mod maintain;
mod show;
mod transfer;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use persistency::{Error, ErrorKind};

/// Look inside libpersistency job files (<ROOT>/<JOB>.db), export and
/// import their rows.
///
/// Keys are shown and typed in a notation of typed parts, e.g.
/// ("/waku/2/default", 1700000000000, 0x1a2b): "strings", integers (signed
/// by default; suffixes u64, u8, i32, ...), true/false, 0x.. byte strings,
/// raw:0x.. raw bytes. Exit codes: 0 ok, 1 the operation failed, 2 usage
/// error.
#[derive(Parser, Debug)]
#[command(name = "persistency", version, max_term_width = 100)]
struct Cli {
    /// No progress bar (it is also off when stderr is not a terminal).
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

/// How payloads are printed.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadFormat {
    /// UTF-8 text when printable, else 0x-prefixed hex.
    Auto,
    /// 0x-prefixed hex.
    Hex,
    /// Base64 (standard alphabet, padded).
    Base64,
    /// The bytes as they are (binary output: redirect it into a file).
    Raw,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List every job file under ROOT: rows, categories, file size, live
    /// bytes (pages in use), last modification.
    Jobs {
        /// The instance root directory.
        root: String,
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Per category of one job: rows, key and payload bytes, smallest and
    /// largest key (decoded).
    Stat {
        /// The instance root directory.
        root: String,
        /// The job id (the file is ROOT/JOB.db).
        job: String,
        /// One JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print rows, one per line: category, decoded key, payload
    /// (tab-separated), in key order.
    Scan {
        /// The instance root directory.
        root: String,
        /// The job id (the file is ROOT/JOB.db).
        job: String,
        /// Only this category (default: every category).
        #[arg(long, short)]
        category: Option<String>,
        /// Only keys starting with this key (notation).
        #[arg(long)]
        prefix: Option<String>,
        /// Only keys >= this key (notation).
        #[arg(long)]
        from: Option<String>,
        /// Only keys < this key (notation).
        #[arg(long)]
        to: Option<String>,
        /// Largest key first.
        #[arg(long)]
        reverse: bool,
        /// At most N rows.
        #[arg(long, short = 'n')]
        limit: Option<u64>,
        /// How payloads are printed.
        #[arg(long, value_enum, default_value_t = PayloadFormat::Auto)]
        payload: PayloadFormat,
    },
    /// Print the payload of one key.
    Get {
        /// The instance root directory.
        root: String,
        /// The job id (the file is ROOT/JOB.db).
        job: String,
        /// The key's category.
        #[arg(long, short)]
        category: String,
        /// The key (notation), e.g. '("/waku/2/default", 1700000000000)'.
        key: String,
        /// How the payload is printed.
        #[arg(long, value_enum, default_value_t = PayloadFormat::Auto)]
        payload: PayloadFormat,
    },
    /// Write rows to stdout as JSON lines {"category","key","payload"},
    /// bytes in base64 (or hex); streams in constant memory.
    ///
    /// A sync set's elements are lines {"sync_set","time","hash"}; its
    /// aggregates are not written, `import` rebuilds them.
    Export {
        /// The instance root directory.
        root: String,
        /// The job id (the file is ROOT/JOB.db).
        job: String,
        /// Only this category.
        #[arg(long, short)]
        category: Option<String>,
        /// Bytes as hex (fields category_hex, key_hex, payload_hex; for
        /// sync elements sync_set_hex, hash_hex).
        #[arg(long)]
        hex: bool,
    },
    /// Read JSON lines (as `export` writes them) from stdin and put every
    /// row into the job, in batches through the library's write path.
    ///
    /// Sync set elements are added to their sets (which rebuilds the sets'
    /// aggregates), in batches of the same size.
    ///
    /// Refuses a job that another process (a running node) has open: stop
    /// the node first. There is no --force: two writers of one job from
    /// different processes would not see each other's queues. ROOT must
    /// exist; the job is created if missing.
    Import {
        /// The instance root directory.
        root: String,
        /// The job id (the file is ROOT/JOB.db).
        job: String,
        /// Rows per atomic batch.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        batch: u32,
    },
    /// Copy the job, consistently, to DEST (a new file, written atomically);
    /// works while a node has the job open. The copy opens as a job file.
    Backup {
        /// The instance root directory.
        root: String,
        /// The job id (the file is ROOT/JOB.db).
        job: String,
        /// The destination file; it must not exist yet.
        dest: String,
    },
    /// Run SQLite's integrity check on the job's file: exit 0 when it is
    /// sound, 1 with the first problems found otherwise.
    Check {
        /// The instance root directory.
        root: String,
        /// The job id (the file is ROOT/JOB.db).
        job: String,
    },
    /// Give the job's free pages back to the file system. Refuses a job
    /// that another process (a running node) has open.
    Compact {
        /// The instance root directory.
        root: String,
        /// The job id (the file is ROOT/JOB.db).
        job: String,
    },
}

/// A failed command: the exit code and a message that names the file and
/// what to do.
pub struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    /// The operation failed (exit 1).
    pub fn failed(message: impl Into<String>) -> Failure {
        Failure {
            code: 1,
            message: message.into(),
        }
    }

    /// The arguments are wrong (exit 2).
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: 2,
            message: message.into(),
        }
    }

    /// A library error with what the user should do: argument errors are
    /// usage errors, others failures.
    pub fn from_lib(error: &Error, hint: &str) -> Failure {
        let message = format!("{}; {hint}", error.message());
        match error.kind() {
            ErrorKind::InvalidArgument => Failure::usage(message),
            _ => Failure::failed(message),
        }
    }
}

/// Opens a job read-only, with messages that say what to do.
pub fn open_reader(root: &str, job: &str) -> Result<persistency::JobReader, Failure> {
    persistency::JobReader::open(root, job).map_err(|e| {
        let hint = match e.kind() {
            ErrorKind::JobNotFound => {
                format!("list the jobs with `persistency jobs {root}`")
            }
            ErrorKind::InvalidArgument => {
                "give an existing root directory and a job id (the file name without .db)".into()
            }
            _ => "check that the file is a job file of libpersistency and is readable".into(),
        };
        Failure::from_lib(&e, &hint)
    })
}

/// Parses a key given on the command line.
pub fn parse_key_arg(flag: &str, text: &str) -> Result<Vec<u8>, Failure> {
    persistency::parse_key(text)
        .map_err(|e| Failure::usage(format!("{flag} '{text}': {}", e.message())))
}

fn run(cli: Cli) -> Result<(), Failure> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Jobs { root, json } => inspect::jobs(&root, json),
        Command::Stat { root, job, json } => inspect::stat(&root, &job, json),
        Command::Scan {
            root,
            job,
            category,
            prefix,
            from,
            to,
            reverse,
            limit,
            payload,
        } => {
            let mut range = persistency::ReadRange::new().reverse(reverse);
            if let Some(c) = category {
                range = range.category(c);
            }
            if let Some(p) = prefix {
                range = range.prefix(&parse_key_arg("--prefix", &p)?);
            }
            if let Some(f) = from {
                let f = parse_key_arg("--from", &f)?;
                if range.start.as_ref().is_none_or(|s| *s < f) {
                    range.start = Some(f);
                }
            }
            if let Some(t) = to {
                let t = parse_key_arg("--to", &t)?;
                if range.stop.as_ref().is_none_or(|s| *s > t) {
                    range.stop = Some(t);
                }
            }
            if let Some(n) = limit {
                range = range.limit(n);
            }
            inspect::scan(&root, &job, &range, payload)
        }
        Command::Get {
            root,
            job,
            category,
            key,
            payload,
        } => inspect::get(&root, &job, &category, &key, payload),
        Command::Export {
            root,
            job,
            category,
            hex,
        } => transfer::export(&root, &job, category.as_deref(), hex, quiet),
        Command::Import { root, job, batch } => transfer::import(&root, &job, batch, quiet),
        Command::Backup { root, job, dest } => maintain::backup(&root, &job, &dest, quiet),
        Command::Check { root, job } => maintain::check(&root, &job, quiet),
        Command::Compact { root, job } => maintain::compact(&root, &job, quiet),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("persistency: error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}
