//! `apigw-stream generate N --out DIR`: synthetic subscription payloads, one Lambda event
//! (`{"awslogs":{"data":...}}`) per file, as CloudWatch Logs would deliver API Gateway access
//! logs, or REST execution logs with `--logs execution|delivery`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use super::values::parse_fraction;
pub use super::values::parse_logs;
use crate::control::generate::{
    GenerateOptions, Generator, LogKind, DEFAULT_BATCH_BYTES, DEFAULT_START_MS,
};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Number of requests (access-log lines) to generate.
    pub requests: u64,
    /// Directory to write payload-000001.json, ... into (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of the pseudo-random mix: the same seed gives the same files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Start of the synthetic timeline, epoch milliseconds (default 2024-06-01T00:00:00Z).
    #[arg(long, default_value_t = DEFAULT_START_MS, conflicts_with = "now")]
    pub start_ms: i64,
    /// Stamp events with the current time instead (output then differs between runs).
    #[arg(long)]
    pub now: bool,
    /// Largest uncompressed LogData per payload (CloudWatch Logs batches up to 1 MB).
    #[arg(long, default_value_t = DEFAULT_BATCH_BYTES)]
    pub batch_bytes: usize,
    /// Also write every request id, one per line, to this file.
    #[arg(long)]
    pub ids: Option<PathBuf>,
    /// Which logs: access (every API kind), execution (REST execution logs, 1 KB lines) or
    /// delivery (REST execution logs as the 1 MB CloudWatch Logs delivery writes them).
    #[arg(long, default_value = "access", value_parser = parse_logs)]
    pub logs: LogKind,
    /// With execution logs: the fraction (0 to 1) of requests cut across two payloads of their
    /// log stream, at a random line (a split request's id is listed once, with its first part).
    #[arg(long, default_value_t = 0.0, value_parser = parse_fraction)]
    pub split_fraction: f64,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.batch_bytes < 4096 {
        anyhow::bail!(
            "--batch-bytes {} is too small (at least 4096)",
            args.batch_bytes
        );
    }
    let opts = GenerateOptions {
        requests: args.requests,
        seed: args.seed,
        start_ms: (!args.now).then_some(args.start_ms),
        max_batch_bytes: args.batch_bytes,
        logs: args.logs,
        split_fraction: args.split_fraction,
        ..GenerateOptions::default()
    };
    if args.split_fraction > 0.0 && args.logs == LogKind::Access {
        anyhow::bail!("--split-fraction cuts execution-log requests: use it with --logs execution or delivery");
    }
    let out = args.out.clone();
    let ids_path = args.ids.clone();
    // Generation and gzip are CPU work; file writes block: one blocking task does both.
    let (payloads, requests, splits, statics, bytes) =
        tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            std::fs::create_dir_all(&out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            let mut ids = match &ids_path {
                Some(p) => Some(std::io::BufWriter::new(
                    std::fs::File::create(p)
                        .with_context(|| format!("cannot create {}", p.display()))?,
                )),
                None => None,
            };
            let (mut payloads, mut requests, mut splits, mut statics, mut bytes) =
                (0u64, 0u64, 0u64, 0u64, 0u64);
            for p in Generator::new(opts) {
                payloads += 1;
                requests += p.events() as u64;
                splits += p.split_request_ids.len() as u64;
                statics += p.static_request_ids.len() as u64;
                bytes += p.event.len() as u64;
                let path = out.join(format!("payload-{payloads:06}.json"));
                std::fs::write(&path, &p.event)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                if let Some(w) = ids.as_mut() {
                    for id in &p.request_ids {
                        writeln!(w, "{id}").context("cannot write the ids file")?;
                    }
                }
            }
            if let Some(mut w) = ids {
                w.flush().context("cannot write the ids file")?;
            }
            Ok((payloads, requests, splits, statics, bytes))
        })
        .await??;
    eprintln!(
        "wrote {payloads} payloads ({requests} requests, {splits} cut across two payloads, {statics} for static files, {bytes} bytes) to {}",
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
