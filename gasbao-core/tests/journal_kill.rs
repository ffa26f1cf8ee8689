//! Process-crash safety: a child process appends and syncs in a loop; the
//! parent kills it (SIGKILL) at arbitrary moments, reopens the journal and
//! checks that every record the child acknowledged is there, intact, and that
//! the hash chain and every checkpoint signature still verify. Bounded in
//! rounds and time.
//!
//! A killed process leaves the page cache behind, so this proves nothing
//! about power loss: `power_loss_at_every_sync_loses_no_acknowledged_record`
//! in `journal.rs` does, on the crash-simulating storage.
#![cfg(all(feature = "journal", unix))]

use std::io::{BufRead, BufReader};
use std::num::NonZeroU64;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, LazyLock, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use gasbao_core::journal::{CheckpointSigningKey, Durability, FileStorage, Integrity, Journal, JournalOptions, verify};

static KEY: LazyLock<Arc<CheckpointSigningKey>> =
    LazyLock::new(|| Arc::new(CheckpointSigningKey::from_secret_bytes(&[0x33; 32]).unwrap()));

const CHILD_DIR: &str = "GASBAO_KILL_CHILD_DIR";

fn payload(seq: u64) -> Vec<u8> {
    let mut bytes = format!("reading {seq} ").into_bytes();
    bytes.resize(64 + (seq % 200) as usize, (seq % 251) as u8);
    bytes
}

fn options() -> JournalOptions {
    JournalOptions::default()
        .durability(Durability::GroupCommit)
        .segment_size(16 << 10)
        .integrity(Integrity::Signed {
            key: KEY.clone(),
            every: NonZeroU64::new(16).unwrap(),
        })
}

/// The child: append forever, printing each acknowledged sequence number.
fn child(dir: PathBuf) {
    let (journal, report) = Journal::open(FileStorage::new(dir).unwrap(), options()).unwrap();
    let mut seq = report.next_seq;
    loop {
        assert_eq!(journal.append(&payload(seq)).unwrap(), seq);
        println!("ack {seq}");
        seq += 1;
    }
}

#[test]
fn a_killed_process_loses_no_acknowledged_record() {
    if let Some(dir) = std::env::var_os(CHILD_DIR) {
        child(dir.into());
        return;
    }
    let dir = std::env::temp_dir().join(format!("gasbao-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut acknowledged = 0u64;
    // A fixed pseudo-random sequence of kill delays, 5 to 120 ms.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for round in 0..8 {
        if Instant::now() > deadline {
            break;
        }
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let delay = Duration::from_millis(5 + (state >> 33) % 116);
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "a_killed_process_loses_no_acknowledged_record",
                "--nocapture",
            ])
            .env(CHILD_DIR, &dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (acks, received) = mpsc::channel();
        let reader = thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(seq) = line.strip_prefix("ack ").and_then(|s| s.parse::<u64>().ok()) {
                    let _ = acks.send(seq);
                }
            }
        });
        thread::sleep(delay);
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        let round_acks: Vec<u64> = received.try_iter().collect();
        if let Some(&last) = round_acks.last() {
            acknowledged = acknowledged.max(last + 1);
        }

        let verified = verify(
            &FileStorage::new(&dir).unwrap(),
            std::slice::from_ref(KEY.verifying_key()),
        )
        .unwrap_or_else(|e| panic!("round {round}: verifying after kill failed: {e:?}"));
        let (journal, report) = Journal::open(FileStorage::new(&dir).unwrap(), options())
            .unwrap_or_else(|e| panic!("round {round}: reopening after kill failed: {e:?}"));
        assert_eq!(report.next_seq, verified.next_seq, "round {round}");
        assert!(
            report.next_seq >= acknowledged,
            "round {round}: {} < {acknowledged}",
            report.next_seq
        );
        let mut expected = 0;
        for record in journal.read_from(0).unwrap() {
            let record = record.unwrap();
            assert_eq!(record.seq, expected, "round {round}");
            assert_eq!(
                record.payload,
                payload(record.seq),
                "round {round}: record {} damaged",
                record.seq
            );
            expected += 1;
        }
        assert!(
            expected >= acknowledged,
            "round {round}: lost records {expected}..{acknowledged}"
        );
    }
    assert!(acknowledged > 0, "the child never acknowledged a record");
    std::fs::remove_dir_all(&dir).unwrap();
}
