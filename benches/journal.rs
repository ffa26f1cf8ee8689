//! The gasbao-core journal on the local disk, and okaywal on the same
//! workload, in one binary: 256-byte records, one writer and sixteen.
//!
//! Beside buffered append, the disk's own floor: the same bytes written and
//! synced 8 MiB at a time with nothing computed.
//!
//! `cargo bench --bench journal`; at the end it prints durable records per
//! `fdatasync` for the group-commit runs. The recovery group opens 64 MiB
//! journals with checksums only, with the SM3 chain, and verifies a signed
//! one, beside SM3 alone over the same bytes.

use std::hint::black_box;
use std::io;
use std::num::NonZeroU64;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gasbao::core::journal::{
    CheckpointSigningKey, Durability, FileStorage, Integrity, Journal, JournalOptions, MeteredStorage, verify,
};
use okaywal::{LogVoid, WriteAheadLog};
use sm3::{Digest, Sm3};

const RECORD: [u8; 256] = [0x5a; 256];
const WRITERS: u64 = 16;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gasbao-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn open(name: &str, durability: Durability) -> (Journal, MeteredStorage<FileStorage>, PathBuf) {
    open_with(name, durability, Integrity::Checksums)
}

fn signed() -> Integrity {
    Integrity::Signed {
        key: Arc::new(CheckpointSigningKey::from_secret_bytes(&[0x5a; 32]).expect("key")),
        every: NonZeroU64::new(1_000).expect("non-zero"),
    }
}

/// A journal in a scratch directory, on storage that counts its `fdatasync`s.
fn open_with(
    name: &str,
    durability: Durability,
    integrity: Integrity,
) -> (Journal, MeteredStorage<FileStorage>, PathBuf) {
    let dir = scratch(name);
    let storage = MeteredStorage::new(FileStorage::new(&dir).expect("scratch dir"));
    let options = JournalOptions::default()
        .durability(durability)
        .segment_size(8 << 20)
        .integrity(integrity);
    let (journal, _) = Journal::open(storage.clone(), options).expect("open journal");
    (journal, storage, dir)
}

/// A 256-byte record as the journal frames it without a chain.
const FRAME: usize = 276;
/// The bench's segment size, as in `open_with`.
const SEGMENT: usize = 8 << 20;

/// Frames gathered in memory and written to a new file, then synced, every
/// `SEGMENT` bytes; the file before it is removed, as retention does.
struct DiskFloor {
    dir: PathBuf,
    buffer: Vec<u8>,
    files: u64,
}

impl DiskFloor {
    fn new(dir: PathBuf) -> DiskFloor {
        DiskFloor {
            dir,
            buffer: Vec::with_capacity(SEGMENT),
            files: 0,
        }
    }

    fn push(&mut self, frame: &[u8]) {
        self.buffer.extend_from_slice(frame);
        if self.buffer.len() + frame.len() > SEGMENT {
            let path = self.dir.join(format!("{:020}", self.files));
            let mut file = std::fs::File::create(&path).expect("create");
            io::Write::write_all(&mut file, &self.buffer).expect("write");
            file.sync_data().expect("sync");
            if let Some(previous) = self.files.checked_sub(1) {
                let _ = std::fs::remove_file(self.dir.join(format!("{previous:020}")));
            }
            self.files += 1;
            self.buffer.clear();
        }
    }
}

/// Runs `iters` appends split over `writers` threads; returns the wall time.
fn parallel(writers: u64, iters: u64, append: impl Fn() + Send + Sync) -> Duration {
    let per_writer = iters.div_ceil(writers);
    let start = Instant::now();
    thread::scope(|scope| {
        for _ in 0..writers {
            scope.spawn(|| (0..per_writer).for_each(|_| append()));
        }
    });
    start.elapsed()
}

fn append(c: &mut Criterion) {
    let mut report = Vec::new();

    let mut group = c.benchmark_group("append_256B");
    group.throughput(Throughput::Elements(1));
    let (buffered, _, dir) = open("buffered", Durability::Buffered);
    group.bench_function("gasbao_buffered_1_writer", |b| {
        b.iter(|| {
            let seq = buffered.append(black_box(&RECORD)).expect("append");
            // Keep the disk bounded: drop segments every 64k records.
            if seq % 65_536 == 65_535 {
                buffered.remove_before(seq).expect("retention");
            }
        })
    });
    drop(buffered);
    let _ = std::fs::remove_dir_all(dir);

    // The disk's own floor for a buffered journal: the same bytes (a 256-byte
    // record is a 276-byte frame) gathered in memory and written 8 MiB at a
    // time, one new file per 8 MiB, each synced as the journal seals a full
    // segment, with nothing encoded or checksummed.
    let dir = scratch("disk-floor");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let mut floor = DiskFloor::new(dir.clone());
    group.bench_function("disk_floor_8MiB_synced_writes", |b| {
        b.iter(|| floor.push(black_box(&[0x5a; FRAME])))
    });
    drop(floor);
    let _ = std::fs::remove_dir_all(dir);

    let (chained, _, dir) = open_with("buffered-signed", Durability::Buffered, signed());
    group.bench_function("gasbao_buffered_signed_1_writer", |b| {
        b.iter(|| {
            let seq = chained.append(black_box(&RECORD)).expect("append");
            if seq % 65_536 == 65_535 {
                chained.remove_before(seq).expect("retention");
            }
        })
    });
    drop(chained);
    let _ = std::fs::remove_dir_all(dir);

    let (each, _, dir) = open("each", Durability::SyncEachCommit);
    group.bench_function("gasbao_sync_each_1_writer", |b| {
        b.iter(|| each.append(black_box(&RECORD)).expect("append"))
    });
    drop(each);
    let _ = std::fs::remove_dir_all(dir);

    let wal_dir = scratch("okaywal-1");
    let wal = WriteAheadLog::recover(&wal_dir, LogVoid).expect("okaywal");
    group.bench_function("okaywal_commit_1_writer", |b| {
        b.iter(|| {
            let mut entry = wal.begin_entry().expect("entry");
            entry.write_chunk(black_box(&RECORD)).expect("chunk");
            entry.commit().expect("commit")
        })
    });
    drop(wal);
    let _ = std::fs::remove_dir_all(wal_dir);

    let (group_commit, disk, dir) = open("group", Durability::GroupCommit);
    group.bench_function("gasbao_group_commit_16_writers", |b| {
        b.iter_custom(|iters| {
            parallel(WRITERS, iters, || {
                group_commit.append(black_box(&RECORD)).expect("append");
            })
        })
    });
    let records = group_commit.next_seq();
    report.push(format!(
        "gasbao group commit, 16 writers: {records} records, {} fdatasyncs, {:.1} records per fdatasync",
        disk.syncs(),
        records as f64 / disk.syncs().max(1) as f64
    ));
    drop(group_commit);
    let _ = std::fs::remove_dir_all(dir);

    let wal_dir = scratch("okaywal-16");
    let wal = WriteAheadLog::recover(&wal_dir, LogVoid).expect("okaywal");
    group.bench_function("okaywal_commit_16_writers", |b| {
        b.iter_custom(|iters| {
            parallel(WRITERS, iters, || {
                let mut entry = wal.begin_entry().expect("entry");
                entry.write_chunk(black_box(&RECORD)).expect("chunk");
                entry.commit().expect("commit");
            })
        })
    });
    drop(wal);
    let _ = std::fs::remove_dir_all(wal_dir);
    group.finish();

    // Recovery: open (scan and check every record) 64 MiB journals.
    let count = (64u64 << 20) / (RECORD.len() as u64 + 20);
    let write = |name: &str, integrity: Integrity| {
        let (journal, _, dir) = open_with(name, Durability::Buffered, integrity);
        for _ in 0..count {
            journal.append(&RECORD).expect("append");
        }
        journal.sync().expect("sync");
        drop(journal);
        dir
    };
    let plain = write("recovery", Integrity::Checksums);
    let chained = write("recovery-chained", Integrity::HashChain);
    let sealed = write("recovery-signed", signed());
    let bytes = |dir: &PathBuf| -> u64 {
        std::fs::read_dir(dir)
            .expect("dir")
            .map(|e| e.expect("entry").metadata().expect("metadata").len())
            .sum()
    };
    let chained_bytes = bytes(&chained);
    let mut group = c.benchmark_group("recovery");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(bytes(&plain)));
    group.bench_function("gasbao_open_64MiB", |b| {
        b.iter(|| Journal::open(FileStorage::new(&plain).expect("dir"), JournalOptions::default()).expect("open"))
    });
    group.throughput(Throughput::Bytes(chained_bytes));
    group.bench_function("gasbao_open_chained_64MiB", |b| {
        let options = JournalOptions::default().integrity(Integrity::HashChain);
        b.iter(|| Journal::open(FileStorage::new(&chained).expect("dir"), options.clone()).expect("open"))
    });
    group.throughput(Throughput::Bytes(bytes(&sealed)));
    let key = CheckpointSigningKey::from_secret_bytes(&[0x5a; 32]).expect("key");
    group.bench_function("gasbao_verify_signed_64MiB", |b| {
        b.iter(|| {
            let report = verify(
                &FileStorage::new(&sealed).expect("dir"),
                std::slice::from_ref(key.verifying_key()),
            )
            .expect("verify");
            assert!(report.checkpoints > 0);
        })
    });
    // The floor: SM3 alone over as many bytes, already in memory.
    let data = vec![0x5au8; usize::try_from(chained_bytes).expect("fits")];
    group.throughput(Throughput::Bytes(chained_bytes));
    group.bench_function("sm3_alone_64MiB", |b| b.iter(|| Sm3::digest(black_box(&data))));
    group.finish();
    for dir in [plain, chained, sealed] {
        let _ = std::fs::remove_dir_all(dir);
    }

    for line in report {
        eprintln!("{line}");
    }
}

criterion_group!(benches, append);
criterion_main!(benches);
