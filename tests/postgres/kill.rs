//! SIGKILL of a writer, then another process opens the job: every
//! acknowledged batch is there, none is torn.

use std::io::BufReader;
use std::time::Duration;

use persistency::Persistency;

use crate::common::{env_or, rng::Rng};
use crate::fencing::open_when_free;
use crate::{batch_state, collect_lines, next_line, root, spawn_child, Reaped};

#[test]
fn killed_writers_lose_no_acknowledged_batch() {
    let Some(root) = root() else { return };
    let cycles: u64 = env_or("PG_KILL_CYCLES", 20);
    let mut rng = Rng(0x06b1_11ed);
    let mut next_id: u64 = 0;
    let mut acked_total = 0usize;
    let db = Persistency::new(&root).expect("instance");
    for cycle in 0..cycles {
        let mut child = Reaped(spawn_child(&root, &format!("crash victim {next_id}")));
        let mut out = BufReader::new(child.0.stdout.take().expect("stdout"));
        let ready = next_line(&mut out);
        assert_eq!(ready, "READY", "cycle {cycle}");
        let lines = collect_lines(out);
        std::thread::sleep(Duration::from_millis(30 + rng.below(250)));
        // SIGKILL: no close, no unlock; the server ends the session.
        drop(child);
        let acked: Vec<u64> = lines
            .join()
            .expect("reader")
            .iter()
            .filter_map(|l| l.strip_prefix("ACK "))
            .map(|id| id.trim().parse().expect("ack id"))
            .collect();
        acked_total += acked.len();
        let job = open_when_free(&db, "victim");
        for &id in &acked {
            assert_eq!(
                batch_state(&job, id).expect("read"),
                Some(true),
                "cycle {cycle}: acknowledged batch {id} missing or torn"
            );
        }
        // Batches past the acknowledged ones: whole or absent, never torn.
        let last = acked.last().copied().unwrap_or(next_id);
        let mut id = next_id;
        while id <= last + 64 {
            assert!(
                batch_state(&job, id).expect("read").is_some(),
                "cycle {cycle}: batch {id} torn"
            );
            id += 1;
        }
        next_id = last + 1_000;
        db.close_job("victim").expect("close");
    }
    assert!(
        acked_total > 0,
        "no batch was acknowledged in {cycles} cycles"
    );
    eprintln!("{cycles} kill cycles, {acked_total} acknowledged batches checked");
}
