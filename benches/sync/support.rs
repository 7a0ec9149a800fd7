//! The sync bench's helpers: the node's design, statistics, and the
//! child process that measures what opening a set costs in memory.

use std::time::{Duration, Instant};

use persistency::ffi::{
    persistency_metrics_text, persistency_new, persistency_open_job, persistency_string_free,
    persistency_sync_summary_sync, PersistencyHandle,
};
use persistency::{SyncId, SyncRange};

#[path = "../../tests/common/rng.rs"]
mod rng;
pub use rng::Rng;

/// A random id: a random hash, at a random time within one hour.
pub fn random_id(rng: &mut Rng) -> SyncId {
    let mut hash = [0u8; 32];
    rng.fill(&mut hash);
    // One hour of nanoseconds.
    SyncId::new(
        1_700_000_000_000_000_000 + rng.below(3_600_000_000_000) as i64,
        hash,
    )
}

/// The node's design: a sorted array.
pub struct NodeSet(pub Vec<SyncId>);

impl NodeSet {
    pub fn insert(&mut self, id: SyncId) {
        if let Err(at) = self.0.binary_search(&id) {
            self.0.insert(at, id);
        }
    }

    pub fn fingerprint(&self, range: &SyncRange) -> (u64, [u8; 32]) {
        let lo = self.0.partition_point(|x| *x < range.start);
        let hi = self.0.partition_point(|x| *x < range.stop);
        let mut fp = [0u8; 32];
        for id in &self.0[lo..hi] {
            fp.iter_mut().zip(&id.hash).for_each(|(a, b)| *a ^= b);
        }
        ((hi - lo) as u64, fp)
    }
}

pub fn stats(samples: &[f64]) -> (f64, f64, f64) {
    let mut s = samples.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    (s[s.len() / 2], s[0], s[s.len() - 1])
}

pub fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// A `/proc/self/status` figure, in KiB (0 where there is none).
fn proc_status(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// An id as the C ABI takes it.
pub fn c_id(id: SyncId) -> persistency::ffi::CSyncId {
    persistency::ffi::CSyncId {
        time: id.time,
        hash: id.hash,
    }
}

/// `--child-open ROOT`: opens the existing set through the C ABI, takes one
/// fingerprint of every element, and prints the growth of `VmRSS` and
/// `VmHWM` in KiB over the process's resident size before the open; then
/// again once the worker has filled the set's memory.
pub fn child_open(root: &str) {
    let before = proc_status("VmRSS");
    let root_c = std::ffi::CString::new(root).unwrap();
    let (mut instance, mut job) = (std::ptr::null_mut(), std::ptr::null_mut());
    let all = SyncRange::all();
    let mut out = persistency::ffi::CSyncSummary {
        count: 0,
        fingerprint: [0; 32],
    };
    let sets = [c"topic".as_ptr()];
    // SAFETY: valid C strings and out-pointers; the handles are released
    // once, after their last use.
    unsafe {
        assert_eq!(persistency_new(root_c.as_ptr(), &mut instance), 0);
        assert_eq!(
            persistency_open_job(instance, c"sync".as_ptr(), &mut job),
            0
        );
        let rc = persistency_sync_summary_sync(
            job,
            sets.as_ptr(),
            1,
            &c_id(all.start),
            &c_id(all.stop),
            &mut out,
        );
        assert_eq!(rc, 0);
    }
    assert!(out.count > 0);
    let (rss, hwm) = (proc_status("VmRSS"), proc_status("VmHWM"));
    // The worker then fills the set's memory in the background.
    wait_filled(instance, out.count);
    let (filled, filled_hwm) = (proc_status("VmRSS"), proc_status("VmHWM"));
    println!(
        "RESULT rss_kib={} hwm_kib={} filled_kib={} filled_hwm_kib={}",
        rss.saturating_sub(before),
        hwm.saturating_sub(before),
        filled.saturating_sub(before),
        filled_hwm.saturating_sub(before)
    );
    // SAFETY: the handles from above, released once.
    unsafe {
        persistency::ffi::persistency_job_release(job);
        persistency::ffi::persistency_close(instance);
        persistency::ffi::persistency_release(instance);
    }
}

/// What `child_open` measured, in MiB: RSS and peak RSS growth when the
/// first fingerprint is answered, and once the set's memory is filled.
pub struct OpenRss {
    pub rss: f64,
    pub hwm: f64,
    pub filled: f64,
    pub filled_hwm: f64,
}

/// Runs `child_open` in a child process.
pub fn open_rss_in_child(root: &str) -> OpenRss {
    let exe = std::env::current_exe().expect("current_exe");
    let out = std::process::Command::new(exe)
        .args(["--child-open", root])
        .output()
        .expect("run the child");
    assert!(out.status.success(), "child failed: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("RESULT "))
        .expect("a RESULT line");
    let field = |name: &str| -> f64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .expect("a figure")
    };
    OpenRss {
        rss: field("rss_kib") / 1024.0,
        hwm: field("hwm_kib") / 1024.0,
        filled: field("filled_kib") / 1024.0,
        filled_hwm: field("filled_hwm_kib") / 1024.0,
    }
}

pub struct Figures(pub Vec<(String, String, Vec<f64>)>);

impl Figures {
    pub fn add(&mut self, name: &str, unit: &str, samples: Vec<f64>) {
        self.0.push((name.into(), unit.into(), samples));
    }

    pub fn get(&self, name: &str) -> (f64, f64, f64) {
        let (_, _, s) = self.0.iter().find(|f| f.0 == name).expect("figure");
        stats(s)
    }
}

/// The `persistency_sync_memory_elements` gauge of the job `sync`, read
/// through `persistency_metrics_text`.
fn elements_in_memory(instance: *const PersistencyHandle) -> u64 {
    // SAFETY: a live instance handle; the text is freed once, below.
    let text = unsafe { persistency_metrics_text(instance) };
    assert!(!text.is_null(), "metrics text");
    // SAFETY: a NUL-terminated string from the call above.
    let owned = unsafe { std::ffi::CStr::from_ptr(text) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: the string from `persistency_metrics_text`, freed once.
    unsafe { persistency_string_free(text) };
    owned
        .lines()
        .find_map(|l| l.strip_prefix("persistency_sync_memory_elements{job=\"sync\"} "))
        .and_then(|v| v.trim().parse().ok())
        .expect("a persistency_sync_memory_elements sample")
}

/// Waits until the worker has filled the memory of the job `sync` with
/// `n` elements (it does so while idle, after the first query); returns
/// how long that took from now.
pub fn wait_filled(instance: *const PersistencyHandle, n: u64) -> Duration {
    let start = Instant::now();
    while elements_in_memory(instance) < n {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the sync memory was not filled within 120 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    start.elapsed()
}
