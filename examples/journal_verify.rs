//! Verifies a journal directory: every checksum, the SM3 hash chain, and every
//! checkpoint's SM2 signature against a public key. Changes nothing.
//!
//! ```sh
//! cargo run --example journal_verify -- <journal-dir> [<public-key-hex>]
//! cargo run --example journal_verify -- --demo
//! ```
//!
//! The public key is SEC1 hex (`04 || x || y`, as `CheckpointVerifyingKey::
//! to_sec1_bytes` writes it). `--demo` writes a signed journal of meter
//! readings to a temporary directory, verifies it, then verifies a copy with
//! one reading altered to show how a failure is reported.
//!
//! Exit status: 0 if the journal verifies, 1 if it is damaged, 2 on bad usage
//! or an I/O error.

use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use gasbao::core::journal::{
    CheckpointSigningKey, CheckpointVerifyingKey, Durability, FileStorage, Integrity, Journal, JournalOptions,
    OpenError, VerifyReport, verify,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag] if flag == "--demo" => demo(),
        [dir] => run(Path::new(dir), None),
        [dir, key] => match parse_key(key) {
            Ok(key) => run(Path::new(dir), Some(&key)),
            Err(message) => usage(&message),
        },
        _ => usage("expected a journal directory"),
    }
}

fn usage(message: &str) -> ExitCode {
    eprintln!("journal_verify: {message}");
    eprintln!("usage: journal_verify <journal-dir> [<public-key-hex>] | --demo");
    ExitCode::from(2)
}

fn parse_key(hex: &str) -> Result<CheckpointVerifyingKey, String> {
    let hex = hex.trim();
    if !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("the public key must be hex".into());
    }
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    CheckpointVerifyingKey::from_sec1_bytes(&bytes).map_err(|e| e.to_string())
}

/// Verifies `dir` and prints the report; the exit status says how it went.
fn run(dir: &Path, key: Option<&CheckpointVerifyingKey>) -> ExitCode {
    let key: Vec<CheckpointVerifyingKey> = key.into_iter().cloned().collect();
    if !dir.is_dir() {
        return usage(&format!("{} is not a directory", dir.display()));
    }
    let storage = match FileStorage::new(dir) {
        Ok(storage) => storage,
        Err(e) => return usage(&format!("cannot open {}: {e}", dir.display())),
    };
    println!("journal {}", dir.display());
    match verify(&storage, key.as_slice()) {
        Ok(report) => {
            print_report(&report);
            ExitCode::SUCCESS
        }
        Err(OpenError::Corrupt(corruption)) => {
            println!("  FAILED  {corruption}");
            println!("  `salvage` copies what passes every check before it to a new directory");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("journal_verify: {e}");
            ExitCode::from(2)
        }
    }
}

fn print_report(report: &VerifyReport) {
    println!(
        "  ok      records {}..{} in {} segment(s)",
        report.first_seq, report.next_seq, report.segments
    );
    match report.chain_head {
        Some(head) => println!("  chain   SM3, head {head}"),
        None => println!("  chain   none (format version 1): checksums only"),
    }
    match (report.signatures_checked, report.last_checkpoint) {
        (_, None) => println!("  sealed  no checkpoints"),
        (true, Some(last)) => println!(
            "  sealed  {} checkpoint(s) verified; newest seals {} record(s), by key {}",
            report.checkpoints, last.records, last.key_id
        ),
        (false, Some(last)) => println!(
            "  sealed  {} checkpoint(s) NOT verified (no key given); newest by key {}",
            report.checkpoints, last.key_id
        ),
    }
    if report.last_checkpoint.is_some() && report.unsealed_records() > 0 {
        println!(
            "  note    {} record(s) after the newest checkpoint carry no signature",
            report.unsealed_records()
        );
    }
    if let Some(torn) = &report.torn_tail {
        println!(
            "  note    a record torn by a crash at {} offset {} ({} bytes); opening cuts it off",
            torn.segment, torn.offset, torn.bytes
        );
    }
}

fn demo() -> ExitCode {
    match write_demo() {
        Ok((dir, damaged, key)) => {
            let public = key.verifying_key().clone();
            println!("public key {}", hex(&public.to_sec1_bytes()));
            let intact = run(&dir, Some(&public));
            let tampered = run(&damaged, Some(&public));
            let _ = std::fs::remove_dir_all(&dir);
            let _ = std::fs::remove_dir_all(&damaged);
            // The demo succeeds when the intact journal passes and the altered one fails.
            if intact == ExitCode::SUCCESS && tampered == ExitCode::from(1) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            }
        }
        Err(e) => {
            eprintln!("journal_verify: demo failed: {e}");
            ExitCode::from(2)
        }
    }
}

type Demo = (PathBuf, PathBuf, Arc<CheckpointSigningKey>);

/// A signed journal of 1,000 meter readings, and a copy with reading 421 altered.
fn write_demo() -> Result<Demo, Box<dyn std::error::Error>> {
    let base = std::env::temp_dir().join(format!("gasbao-journal-verify-{}", std::process::id()));
    let dir = base.join("intact");
    let damaged = base.join("altered");
    let key = Arc::new(CheckpointSigningKey::from_secret_bytes(&[0x42; 32])?);
    let options = JournalOptions::default()
        .durability(Durability::Buffered)
        .segment_size(16 << 10)
        .integrity(Integrity::Signed {
            key: key.clone(),
            every: NonZeroU64::new(100).ok_or("zero")?,
        });
    let (journal, _) = Journal::open(FileStorage::new(&dir)?, options)?;
    for meter in 0..1_000u64 {
        let reading = format!(
            "meter {:05} read {}.{:03} m3",
            meter,
            300 + meter % 97,
            meter * 37 % 1000
        );
        journal.append(reading.as_bytes())?;
    }
    journal.sync()?;
    drop(journal);

    // The altered copy: one digit of one reading changed in place. Its CRC
    // no longer matches, and that is what verify reports.
    std::fs::create_dir_all(&damaged)?;
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        std::fs::copy(entry.path(), damaged.join(entry.file_name()))?;
    }
    let needle = b"meter 00421 read ";
    for entry in std::fs::read_dir(&damaged)? {
        let path = entry?.path();
        let mut bytes = std::fs::read(&path)?;
        if let Some(at) = bytes.windows(needle.len()).position(|w| w == needle) {
            bytes[at + needle.len()] = b'9';
            std::fs::write(&path, bytes)?;
        }
    }
    Ok((dir, damaged, key))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
