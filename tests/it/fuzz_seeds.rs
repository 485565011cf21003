//! Every fuzz target's body, run as an ordinary test: each seed in `fuzz/seeds/<target>/`, then a
//! fixed set of mutations of it (byte flips, cuts, splices, tokens the parsers care about), through
//! the very function the cargo-fuzz binary calls (`fuzz/entries.rs`). This keeps the targets
//! compiling against today's API and catches shallow panics on every `cargo test`; coverage-guided
//! fuzzing is the longer `scripts/fuzz.sh`.

#![allow(clippy::expect_used, clippy::panic)]

#[path = "../../fuzz/entries.rs"]
mod entries;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// Mutations tried per seed: enough to reach past the first byte of every format, few enough that
/// the whole replay takes seconds in a debug build.
const MUTATIONS_PER_SEED: usize = 400;

/// Fragments that steer parsers into their interesting branches.
const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"/",
    b"@",
    b"@sha256:",
    b"sha256:",
    b"\\u0000",
    b"\x00",
    b"\xff",
    b"-1",
    b"1e999",
    b"99999999999999999999",
    b"null",
    b"true",
    b"---\n",
    b"&a *a",
    b"!!binary",
    b"-----BEGIN CERTIFICATE-----\n",
    b"\n",
    b"%",
    b"..",
];

/// xorshift64*: a fixed, dependency-free sequence so every run replays the same inputs.
struct Sequence(u64);

impl Sequence {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }
}

fn mutate(seed: &[u8], sequence: &mut Sequence) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..=sequence.below(4) {
        let at = sequence.below(data.len() + 1);
        match sequence.below(5) {
            0 if at < data.len() => data[at] ^= 1 << sequence.below(8),
            1 => {
                let end = (at + sequence.below(64)).min(data.len());
                data.drain(at..end);
            }
            2 => {
                let token = TOKENS[sequence.below(TOKENS.len())];
                data.splice(at..at, token.iter().copied());
            }
            3 => {
                let end = (at + sequence.below(256)).min(data.len());
                let chunk = data[at..end].to_vec();
                data.splice(at..at, chunk);
            }
            _ => data.truncate(at),
        }
    }
    data
}

fn seeds(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("seed directory entry").path())
        .collect();
    files.sort();
    files
}

fn run(target: &str, entry: entries::Entry, data: &[u8], origin: &str) {
    if catch_unwind(AssertUnwindSafe(|| entry(data))).is_err() {
        panic!(
            "fuzz target {target} panicked on {origin}; input: {:?}",
            String::from_utf8_lossy(data)
        );
    }
}

#[test]
fn every_target_has_seeds_and_survives_them_and_their_mutations() {
    for (index, (target, entry)) in entries::TARGETS.into_iter().enumerate() {
        let files = seeds(target);
        assert!(!files.is_empty(), "fuzz/seeds/{target} holds no seed");
        let mut sequence = Sequence(0x5167_6e65_7400 + index as u64);
        for file in files {
            let seed = std::fs::read(&file).expect("seed readable");
            run(target, entry, &seed, &file.display().to_string());
            for round in 0..MUTATIONS_PER_SEED {
                let data = mutate(&seed, &mut sequence);
                run(
                    target,
                    entry,
                    &data,
                    &format!("mutation {round} of {}", file.display()),
                );
            }
        }
    }
}

#[test]
fn every_fuzz_binary_calls_its_entry() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("fuzz/Cargo.toml");
    let mut binaries: Vec<&str> = manifest
        .lines()
        .filter_map(|line| line.strip_prefix("name = \""))
        .filter_map(|rest| rest.strip_suffix('"'))
        .filter(|name| *name != "signet-fuzz")
        .collect();
    binaries.sort_unstable();
    let listed: Vec<&str> = entries::TARGETS.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        binaries, listed,
        "fuzz/Cargo.toml's [[bin]] targets and entries::TARGETS"
    );
    let dir = root.join("fuzz_targets");
    for (target, _) in entries::TARGETS {
        let source = std::fs::read_to_string(dir.join(format!("{target}.rs")))
            .unwrap_or_else(|e| panic!("fuzz/fuzz_targets/{target}.rs: {e}"));
        assert!(
            source.contains(&format!("entries::{target}(data)")),
            "fuzz/fuzz_targets/{target}.rs does not call entries::{target}"
        );
    }
}
