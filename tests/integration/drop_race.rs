//! `drop_job` against a concurrent `open_job` of the same id, raced freely
//! (the deterministic version with a hook before the unlink is
//! `tests/drop_race_hook.rs`): an open either gets the job from before the
//! drop, which the drop then closes, or a fresh file after the drop; an
//! acknowledged write to a job that stayed open is never lost.

use std::sync::{Arc, Barrier};

use persistency::{ErrorKind, Op, Persistency, Result};

use crate::watchdog::watchdog;

/// Rounds of the race; each one drops an open job with data while another
/// thread opens it and writes.
const ROUNDS: u32 = 300;

#[test]
fn an_open_racing_a_drop_never_loses_an_acknowledged_write() {
    watchdog("drop/open race", || -> Result<()> {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Persistency::new(dir.path().to_str().expect("utf8"))?;
        let mut reopened_after_drop = 0;
        for round in 0..ROUNDS {
            // An open job with data, so the drop has a job to close and a
            // file to delete.
            db.open_job("x")?.put("c", b"old", b"1")?;
            let barrier = Arc::new(Barrier::new(2));
            let dropper = {
                let (db, barrier) = (db.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    db.drop_job("x")
                })
            };
            let key = round.to_be_bytes();
            barrier.wait();
            let job = db.open_job("x")?;
            let written = job.write(vec![Op::put("c", key.to_vec(), b"acked".to_vec())]);
            dropper.join().expect("dropper")?;
            match &written {
                Ok(()) => {}
                // The drop closed the job this open returned.
                Err(e) if e.kind() == ErrorKind::Closed => {}
                Err(e) => panic!("round {round}: the write failed with {e}"),
            }
            if written.is_ok() && db.has_job("x") && job.is_open() {
                // The open came after the drop's close: its acknowledged
                // write must survive a close and a reopen.
                reopened_after_drop += 1;
                db.close_job("x")?;
                let again = db.open_job("x")?;
                assert_eq!(
                    again.get("c", &key)?,
                    Some(b"acked".to_vec()),
                    "round {round}: an acknowledged write was lost (the open reused the file the drop deleted)"
                );
                assert_eq!(
                    again.get("c", b"old")?,
                    None,
                    "round {round}: the reopened job kept the dropped data"
                );
            }
            db.drop_job("x")?;
        }
        eprintln!("{reopened_after_drop} of {ROUNDS} opens came after the drop's close");
        Ok(())
    })
    .expect("race");
}
