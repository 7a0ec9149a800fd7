//! The upstream per-operation design: a worker thread fed by a channel, one
//! autocommit transaction per write.

use std::path::Path;
use std::sync::mpsc;
use std::thread::{self, JoinHandle};

use rusqlite::params;

use super::raw_sqlite::{raw_open, PUT};
use crate::config::CATEGORY;

enum UpstreamMsg {
    Put {
        category: Vec<u8>,
        key: Vec<u8>,
        payload: Vec<u8>,
    },
    Flush(mpsc::SyncSender<()>),
}

/// A worker thread fed by an unbounded channel, applying each write as its
/// own autocommit transaction (the upstream design, minus its polling).
pub struct Upstream {
    tx: Option<mpsc::Sender<UpstreamMsg>>,
    worker: Option<JoinHandle<()>>,
}

impl Upstream {
    pub fn open(path: &Path) -> Upstream {
        let (tx, rx) = mpsc::channel::<UpstreamMsg>();
        let path = path.to_path_buf();
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let worker = thread::spawn(move || {
            let conn = raw_open(&path, "NORMAL");
            let mut stmt = conn.prepare(PUT).expect("prepare");
            let _ = ready_tx.send(());
            for msg in rx {
                match msg {
                    UpstreamMsg::Put {
                        category,
                        key,
                        payload,
                    } => {
                        stmt.execute(params![category, key, payload])
                            .expect("insert");
                    }
                    UpstreamMsg::Flush(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
        ready_rx.recv().expect("upstream worker ready");
        Upstream {
            tx: Some(tx),
            worker: Some(worker),
        }
    }

    pub fn put(&self, key: &[u8], payload: &[u8]) {
        let msg = UpstreamMsg::Put {
            category: CATEGORY.as_bytes().to_vec(),
            key: key.to_vec(),
            payload: payload.to_vec(),
        };
        self.tx.as_ref().expect("open").send(msg).expect("send");
    }

    pub fn flush(&self) {
        let (tx, rx) = mpsc::sync_channel(1);
        self.tx
            .as_ref()
            .expect("open")
            .send(UpstreamMsg::Flush(tx))
            .expect("send");
        rx.recv().expect("flush");
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}
