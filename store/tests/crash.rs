//! kill -9 while appending to the journal: every append acknowledged before
//! the kill is there after reopening, and the store opens cleanly.
//!
//! The child is this same test binary, re-run with an environment variable
//! that makes the test append forever and print each acknowledged id.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use gojira_store::embedded::EmbeddedStore;
use gojira_store::{Clock, Store};

const CHILD_ENV: &str = "GOJIRA_CRASH_CHILD_DIR";
const ACKS_BEFORE_KILL: usize = 300;

fn child(dir: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store =
            Store::Embedded(EmbeddedStore::open(std::path::Path::new(dir), Clock::System).unwrap());
        let mut out = std::io::stdout().lock();
        for i in 0u64.. {
            let id = store
                .journal_append("crash", "writer", format!("entry-{i}").as_bytes())
                .await
                .unwrap();
            writeln!(out, "ack {id} {i}").unwrap();
            out.flush().unwrap();
        }
    });
}

#[test]
fn acknowledged_appends_survive_kill_9() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        child(&dir);
        return;
    }
    let dir = std::env::temp_dir().join(format!("gojira-crash-{}", std::process::id()));
    let mut proc = Command::new(std::env::current_exe().unwrap())
        .args([
            "acknowledged_appends_survive_kill_9",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = proc.stdout.take().unwrap();
    let mut acked = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("ack ") {
            let mut parts = rest.split_whitespace();
            let id: u64 = parts.next().unwrap().parse().unwrap();
            let i: u64 = parts.next().unwrap().parse().unwrap();
            acked.push((id, i));
            if acked.len() == ACKS_BEFORE_KILL {
                // SIGKILL mid-stream: the child is appending as fast as it can.
                proc.kill().unwrap();
                break;
            }
        }
    }
    proc.wait().unwrap();
    assert_eq!(
        acked.len(),
        ACKS_BEFORE_KILL,
        "the child acknowledged appends before being killed"
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = Store::Embedded(
            EmbeddedStore::open(&dir, Clock::System).expect("the store reopens after kill -9"),
        );
        for (id, i) in &acked {
            let entry = store.journal_get("crash", *id).await.unwrap();
            assert_eq!(
                entry.map(|e| e.data),
                Some(format!("entry-{i}").into_bytes()),
                "acknowledged append {id} survived"
            );
        }
        let last = acked.iter().map(|(id, _)| *id).max().unwrap();
        let next = store
            .journal_append("crash", "writer", b"after restart")
            .await
            .unwrap();
        assert!(
            next > last,
            "ids continue after the crash ({next} > {last})"
        );
    });
    let _ = std::fs::remove_dir_all(&dir);
}
