//! The progress bars of the commands that can take more than a second.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What a progress bar counts.
#[derive(Clone, Copy)]
pub enum Unit {
    /// Rows.
    Rows,
    /// Bytes.
    Bytes,
}

/// A progress bar on stderr, or a hidden one when stderr is not a terminal
/// or with `--quiet`. `total` gives a bar with an ETA, `None` a counter.
pub fn progress(quiet: bool, total: Option<u64>, unit: Unit, what: &str) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let template = match (total, unit) {
        (Some(_), Unit::Rows) => {
            "{msg} [{bar:30}] {human_pos}/{human_len} rows, {per_sec}, ETA {eta}"
        }
        (Some(_), Unit::Bytes) => {
            "{msg} [{bar:30}] {bytes}/{total_bytes}, {bytes_per_sec}, ETA {eta}"
        }
        (None, Unit::Rows) => "{msg} {spinner} {human_pos} rows, {per_sec}, {elapsed}",
        (None, Unit::Bytes) => "{msg} {spinner} {bytes}, {bytes_per_sec}, {elapsed}",
    };
    let style = ProgressStyle::with_template(template)
        .expect("static template")
        .progress_chars("=> ");
    let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr()).with_style(style);
    bar.set_message(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
