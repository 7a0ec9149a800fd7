//! The logger hook: the library never calls it with a lock held (a logger
//! may call back into the library), replacing it waits until no other
//! thread is inside the old one (so the host may free what it used), and a
//! logger may replace the logger from inside itself without deadlock.
//! Hang-prone tests run under a watchdog.

mod watchdog;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::time::Duration;

use persistency::{set_logger, Level, Persistency, Result};
use watchdog::watchdog;

/// The logger is process-wide: one test at a time.
static ONE: Mutex<()> = Mutex::new(());

fn one() -> std::sync::MutexGuard<'static, ()> {
    ONE.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn a_logger_that_calls_into_the_library_does_not_hang_it() {
    let _one = one();
    watchdog(
        "open_job with a logger that calls has_job",
        || -> Result<()> {
            let dir = tempfile::tempdir().expect("tempdir");
            let db = Persistency::new(dir.path().to_str().expect("utf8"))?;
            let seen = Arc::new(Mutex::new(Vec::new()));
            {
                let (db, seen) = (db.clone(), seen.clone());
                set_logger(
                    Some(Arc::new(move |_level, message: &str| {
                        // Back into the library, from inside the logger.
                        let open = db.has_job("x");
                        let ids = db.job_ids().len();
                        seen.lock()
                            .expect("seen")
                            .push(format!("{message} (x open: {open}, {ids} jobs)"));
                    })),
                    Level::Debug,
                );
            }
            let job = db.open_job("x")?;
            job.put("c", b"k", b"v")?;
            db.close_job("x")?;
            db.open_job("x")?;
            db.drop_job("x")?;
            db.close()?;
            set_logger(None, Level::Error);
            let seen = seen.lock().expect("seen");
            assert!(
                seen.iter().any(|m| m.contains("job x opened")),
                "the open was logged: {seen:?}"
            );
            Ok(())
        },
    )
    .expect("no error");
}

#[test]
fn removing_the_logger_waits_for_threads_inside_it() {
    let _one = one();
    watchdog("set_logger(None) while a thread is inside", || {
        let (entered_tx, entered_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Mutex::new(release_rx);
        let removed = Arc::new(AtomicBool::new(false));
        // Set when the logger returns: whether set_logger(None) had
        // returned while this thread was still inside the logger.
        let removed_while_inside = Arc::new(Mutex::new(None));
        {
            let (removed, removed_while_inside) = (removed.clone(), removed_while_inside.clone());
            let entered_tx = Mutex::new(entered_tx);
            set_logger(
                Some(Arc::new(move |_level, message: &str| {
                    if !message.contains("job held opened") {
                        return;
                    }
                    let _ = entered_tx.lock().expect("tx").send(());
                    let _ = release_rx.lock().expect("rx").recv();
                    // The host's user data would be freed by now if
                    // set_logger had returned.
                    *removed_while_inside.lock().expect("flag") =
                        Some(removed.load(Ordering::SeqCst));
                })),
                Level::Info,
            );
        }
        let db = Persistency::new(":memory:").expect("instance");
        let logging = {
            let db = db.clone();
            std::thread::spawn(move || db.open_job("held").map(|_| ()))
        };
        entered_rx.recv().expect("the logger was entered");
        let (returned_tx, returned_rx) = mpsc::channel();
        let remover = {
            let removed = removed.clone();
            std::thread::spawn(move || {
                set_logger(None, Level::Error);
                removed.store(true, Ordering::SeqCst);
                let _ = returned_tx.send(());
            })
        };
        // Give a wrong set_logger the chance to return while the logger is
        // still running (a grace period, not a timing assertion: a correct
        // one never returns before the release below).
        let _ = returned_rx.recv_timeout(Duration::from_millis(500));
        release_tx.send(()).expect("release");
        logging.join().expect("logging thread").expect("open");
        remover.join().expect("remover");
        assert_eq!(
            *removed_while_inside.lock().expect("flag"),
            Some(false),
            "set_logger(None) returned while another thread was inside the old logger"
        );
        db.close().expect("close");
    });
}

#[test]
fn a_logger_may_replace_the_logger_from_inside_itself() {
    let _one = one();
    watchdog("a logger replacing itself", || -> Result<()> {
        let db = Persistency::new(":memory:")?;
        let calls = Arc::new(Mutex::new(Vec::new()));
        let second: persistency::Logger = {
            let calls = calls.clone();
            Arc::new(move |_level, message: &str| {
                calls
                    .lock()
                    .expect("calls")
                    .push(format!("second: {message}"))
            })
        };
        {
            let calls = calls.clone();
            set_logger(
                Some(Arc::new(move |_level, message: &str| {
                    calls
                        .lock()
                        .expect("calls")
                        .push(format!("first: {message}"));
                    // Replace the logger from inside it: must not wait
                    // for this very call to end.
                    set_logger(Some(second.clone()), Level::Info);
                })),
                Level::Info,
            );
        }
        db.open_job("a")?;
        db.open_job("b")?;
        set_logger(None, Level::Error);
        let calls = calls.lock().expect("calls");
        assert!(calls[0].starts_with("first: job a opened"), "{calls:?}");
        assert!(
            calls.iter().any(|c| c.starts_with("second: job b opened")),
            "{calls:?}"
        );
        db.close()?;
        Ok(())
    })
    .expect("no error");
}

#[test]
fn threads_replacing_the_logger_from_inside_it_at_once() {
    // Two threads inside the same logger each replace it: neither may wait
    // for the other.
    let _one = one();
    watchdog(
        "two threads replacing the logger from inside it",
        || -> Result<()> {
            let db = Persistency::new(":memory:")?;
            let barrier = Arc::new(Barrier::new(2));
            {
                let barrier = barrier.clone();
                set_logger(
                    Some(Arc::new(move |_level, message: &str| {
                        if message.contains("opened") {
                            barrier.wait();
                            set_logger(None, Level::Error);
                        }
                    })),
                    Level::Info,
                );
            }
            let threads: Vec<_> = ["a", "b"]
                .into_iter()
                .map(|id| {
                    let db = db.clone();
                    std::thread::spawn(move || db.open_job(id).map(|_| ()))
                })
                .collect();
            for t in threads {
                t.join().expect("thread")?;
            }
            set_logger(None, Level::Error);
            db.close()?;
            Ok(())
        },
    )
    .expect("no error");
}
