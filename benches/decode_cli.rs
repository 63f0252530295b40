//! `cargo bench --bench decode_cli`: the `apigw-stream decode` command against a plain Python loop
//! (`benches/python/decode_loop.py`: base64 → gunzip → json → record → dumps) on the same files of
//! access-log payloads, both writing NDJSON to a file, each pinned to one core with `taskset` when
//! it exists. Needs `python3` on PATH. The ratio of the two is the figure to read.

// Only the suite's payload builders are used here, not its criterion groups.
#[allow(dead_code)]
#[path = "suite/decode.rs"]
mod suite;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};

/// About 100,000 records: copies of the suite's ~1 MB payload, one Lambda event per file.
const FILES: usize = 64;

fn pinned(program: &str) -> Command {
    if Command::new("taskset").arg("-V").output().is_ok() {
        let mut c = Command::new("taskset");
        c.args(["-c", "0", program]);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut cmd: Command, what: &str) -> Duration {
    let start = Instant::now();
    let status = cmd.status().unwrap_or_else(|e| panic!("{what}: {e}"));
    let took = start.elapsed();
    assert!(status.success(), "{what} failed: {status}");
    took
}

fn bench(c: &mut Criterion) {
    let (event, per_file, _) = suite::payload();
    let dir = std::env::temp_dir().join(format!("apigw-stream-bench-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let inputs: Vec<PathBuf> = (0..FILES)
        .map(|i| {
            let p = dir.join(format!("payload-{i:04}.json"));
            std::fs::write(&p, &event).unwrap();
            p
        })
        .collect();
    let out = dir.join("out.ndjson");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/python/decode_loop.py");
    let records = (per_file * FILES) as u64;

    let mut g = c.benchmark_group("decode_cli");
    g.throughput(Throughput::Elements(records));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function(format!("apigw-stream_decode/{records}_records"), |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let mut cmd = pinned(env!("CARGO_BIN_EXE_apigw-stream"));
                    cmd.arg("decode")
                        .args(&inputs)
                        .stdout(std::fs::File::create(&out).expect("output file"));
                    run(cmd, "apigw-stream decode")
                })
                .sum()
        })
    });
    g.bench_function(format!("python_loop/{records}_records"), |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let mut cmd = pinned("python3");
                    cmd.arg(&script).arg(&out).args(&inputs);
                    cmd.stderr(std::process::Stdio::null());
                    run(cmd, "python3 decode_loop.py")
                })
                .sum()
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion::criterion_group!(benches, bench);
criterion::criterion_main!(benches);
