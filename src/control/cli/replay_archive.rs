//! `apigw-stream replay --from-archive s3://BUCKET/PREFIX|DIR`: a backfill from the archive. Reads
//! objects one at a time (streamed, bounded memory), keeps the records inside the time window and
//! API selection, and sends them as frames to a queue, or straight to a Bridge with the shipper's
//! own client. A corrupt object is reported by key and skipped; the run goes on and exits 1.
//!
//! A directory is read as untrusted ([`crate::archive::source`]): symbolic links are not followed
//! (`--follow-symlinks` follows links to regular files), only regular files are opened, and every
//! entry left out is named with its reason and makes the run exit 1. Memory is bounded by bytes:
//! a batch handed to the sender holds at most [`BATCH_BYTES`] of record lines (or
//! [`BATCH_RECORDS`] records), and at most two wait in the channel.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use indicatif::ProgressBar;
use serde::Serialize;
use tokio::sync::mpsc;

use super::collector::CollectorArgs;
use super::progress::progress_bar;
pub use super::values::parse_time;
use crate::archive::source::{read_records_sized, ArchiveReader, Location, ObjectRef};
use crate::control::aws::AwsArgs;
use crate::ship::{ShipConfig, Shipper};
use crate::transaction::Transaction;
use crate::transport::frame;
use crate::transport::queue::{send_all, InMessage, Queue, SendPolicy, SqsQueue};

/// Records handed from an object's reader thread to the sender at once, at most.
pub const BATCH_RECORDS: usize = 500;
/// Bytes of record lines handed at once, at most (a batch closes at the record that reaches it):
/// with two batches waiting, one being read and one being sent, a run holds a few tens of MB
/// of records whatever their size.
pub const BATCH_BYTES: usize = 8 * 1024 * 1024;

/// The flags of the archive mode (flattened into `replay`'s).
#[derive(Debug, clap::Args)]
pub struct ArchiveArgs {
    /// Replay from the archive: s3://BUCKET/PREFIX, or a directory (e.g. local --archive-dir).
    #[arg(long, value_name = "s3://BUCKET/PREFIX|DIR", conflicts_with = "from")]
    pub from_archive: Option<String>,
    /// Records at or after this time: RFC 3339, YYYY-MM-DD[THH:MM[:SS]] (UTC), or epoch ms.
    #[arg(long, value_name = "T", value_parser = parse_time, requires = "from_archive")]
    pub since: Option<i64>,
    /// Records before this time (same forms as --since).
    #[arg(long, value_name = "T", value_parser = parse_time, requires = "from_archive")]
    pub until: Option<i64>,
    /// Only this API id.
    #[arg(long, value_name = "ID", requires = "from_archive")]
    pub api: Option<String>,
    /// Only this stage.
    #[arg(long, value_name = "STAGE", requires = "from_archive")]
    pub stage: Option<String>,
    /// Follow symbolic links to regular files in the --from-archive directory, wherever they
    /// point (by default links are skipped and named, and the run exits 1).
    #[arg(long, requires = "from_archive")]
    pub follow_symlinks: bool,
    /// The collector to ship straight to instead of a queue (`--bridge-url` or the --env-file's
    /// Edge endpoint): the same flags as `local`.
    #[command(flatten)]
    pub collector: CollectorArgs,
}

/// The flags of `replay` the archive mode reads besides its own.
#[derive(Debug, Clone, Copy)]
pub struct Shared<'a> {
    pub aws: &'a AwsArgs,
    /// `--to`: the destination queue.
    pub to: Option<&'a str>,
    pub dry_run: bool,
    pub rate: Option<f64>,
    pub message_bytes: Option<usize>,
    pub json: bool,
}

/// Which records a backfill keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub api: Option<String>,
    pub stage: Option<String>,
}

impl Selection {
    pub fn matches(&self, t: &Transaction) -> bool {
        self.since_ms.is_none_or(|s| t.time_ms >= s)
            && self.until_ms.is_none_or(|u| t.time_ms < u)
            && self
                .api
                .as_ref()
                .is_none_or(|a| t.api.id.as_deref() == Some(a))
            && self
                .stage
                .as_ref()
                .is_none_or(|s| t.api.stage.as_deref() == Some(s))
    }
}

/// What a backfill did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BackfillSummary {
    pub objects: u64,
    /// Entries of the directory left out (symbolic links, pipes, devices, files that changed),
    /// each named in `errors` with its reason.
    pub skipped_objects: u64,
    pub corrupt_objects: u64,
    /// Records read from the archive.
    pub read: u64,
    /// Records inside the selection.
    pub matched: u64,
    /// Records accepted by the queue or the Bridge (0 in a dry run).
    pub sent: u64,
    /// Records outside the selection.
    pub skipped: u64,
    /// Lines that were not canonical records.
    pub bad_lines: u64,
    /// Matched records that could not be sent.
    pub failed: u64,
    pub dry_run: bool,
    pub errors: Vec<String>,
}

/// Where matched records go.
enum Destination {
    DryRun,
    Queue {
        queue: SqsQueue,
        message_bytes: usize,
    },
    Bridge(Box<Shipper>),
}

impl Destination {
    /// Send `records`; returns how many were accepted, and an error for the rest.
    async fn send(&self, records: &[Transaction]) -> (u64, Option<String>) {
        let n = records.len() as u64;
        match self {
            Destination::DryRun => (0, None),
            Destination::Queue {
                queue,
                message_bytes,
            } => {
                let packed = match frame::pack_isolating(records, *message_bytes) {
                    Ok(p) => p,
                    Err(e) => return (0, Some(e.to_string())),
                };
                let unfit = unfit_error(&packed);
                let framed = n - packed.unfit.len() as u64;
                let messages: Vec<_> = packed
                    .frames
                    .into_iter()
                    .enumerate()
                    .map(|(i, f)| f.into_message(i.to_string()))
                    .collect();
                if messages.is_empty() {
                    return (0, unfit);
                }
                match send_all(queue, messages, &SendPolicy::default()).await {
                    Ok(_) => (framed, unfit),
                    Err(e) => (0, Some(format!("{}: {e}", queue.name()))),
                }
            }
            Destination::Bridge(shipper) => {
                let packed = match frame::pack_isolating(
                    records,
                    crate::transport::queue::MAX_MESSAGE_BYTES,
                ) {
                    Ok(p) => p,
                    Err(e) => return (0, Some(e.to_string())),
                };
                let unfit = unfit_error(&packed);
                let unfit_n = packed.unfit.len() as u64;
                let frames = packed.frames;
                let counts: Vec<u64> = frames.iter().map(|f| f.records as u64).collect();
                let messages: Vec<InMessage> = frames
                    .into_iter()
                    .enumerate()
                    .map(|(i, f)| InMessage::new(i.to_string(), f.body))
                    .collect();
                let deadline = Instant::now() + Duration::from_secs(120);
                let report = shipper.ship(&messages, deadline).await;
                let failed: u64 = messages
                    .iter()
                    .zip(&counts)
                    .filter(|(m, _)| report.failed.contains(&m.message_id))
                    .map(|(_, c)| *c)
                    .sum();
                let err = (failed > 0).then(|| {
                    format!(
                        "the Bridge did not accept {failed} records after the shipper's retries"
                    )
                });
                let err = match (err, unfit) {
                    (Some(a), Some(b)) => Some(format!("{a}; {b}")),
                    (a, b) => a.or(b),
                };
                (n - failed - unfit_n, err)
            }
        }
    }
}

/// The records no message can hold even cut, named.
fn unfit_error(packed: &frame::Packed) -> Option<String> {
    (!packed.unfit.is_empty()).then(|| {
        let ids: Vec<&str> = packed.unfit.iter().map(|u| u.id.as_str()).collect();
        format!(
            "{} records fit no message even cut (not sent): {}",
            ids.len(),
            ids.join(", ")
        )
    })
}

/// Run a backfill: `archive` holds the mode's flags (`from_archive` is set), `shared` the rest.
pub async fn run(archive: &ArchiveArgs, shared: Shared<'_>) -> anyhow::Result<ExitCode> {
    let from = archive.from_archive.clone().unwrap_or_default();
    let location = Location::parse(&from).with_context(|| "--from-archive")?;
    let selection = selection(archive)?;
    let target = target(archive, shared)?;
    // S3, a queue, or a Bridge secret kept in Secrets Manager.
    let needs_aws = matches!(location, Location::S3 { .. })
        || matches!(target, Target::Queue(_))
        || std::env::var_os("CLIENT_SECRET_ARN").is_some();
    let sdk = if needs_aws {
        Some(shared.aws.load().await)
    } else {
        None
    };
    let s3 = match (&location, &sdk) {
        (Location::S3 { .. }, Some(conf)) => {
            // Emulators (moto, LocalStack) answer path-style requests only.
            let c = aws_sdk_s3::config::Builder::from(conf)
                .force_path_style(shared.aws.endpoint_url.is_some())
                .build();
            Some(aws_sdk_s3::Client::from_conf(c))
        }
        _ => None,
    };
    let dest = destination(target, shared, sdk.as_ref())?;

    let reader = ArchiveReader::new(location, s3).follow_symlinks(archive.follow_symlinks);
    let listing = reader.list(selection.since_ms).await?;
    let objects = &listing.objects;
    let bar = progress_bar(Some(objects.iter().map(|o| o.size).sum()));
    let mut summary = backfill(&reader, objects, &selection, &dest, shared.rate, &bar).await;
    bar.finish_and_clear();
    summary.skipped_objects += listing.skipped.len() as u64;
    let mut errors: Vec<String> = listing
        .skipped
        .iter()
        .map(|k| format!("{}: skipped: {}", k.key, k.reason))
        .collect();
    errors.append(&mut summary.errors);
    summary.errors = errors;
    print_summary(&from, &summary, shared.json)?;
    let clean = summary.corrupt_objects == 0
        && summary.skipped_objects == 0
        && summary.bad_lines == 0
        && summary.failed == 0;
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The records the flags select, checked.
fn selection(archive: &ArchiveArgs) -> anyhow::Result<Selection> {
    if let (Some(s), Some(u)) = (archive.since, archive.until) {
        if s >= u {
            bail!("--since must be before --until");
        }
    }
    Ok(Selection {
        since_ms: archive.since,
        until_ms: archive.until,
        api: archive.api.clone(),
        stage: archive.stage.clone(),
    })
}

/// Where the flags send matched records, before any client is made.
enum Target {
    DryRun,
    Queue(String),
    /// The shipper's settings by environment name (the collector flags over the environment).
    Bridge(HashMap<&'static str, String>),
}

/// `--dry-run`, else `--to`, else the collector. `--to` with `--bridge-url` on the command line
/// is refused; a collector named only by the environment or the --env-file gives way to `--to`.
fn target(archive: &ArchiveArgs, shared: Shared<'_>) -> anyhow::Result<Target> {
    let collector = &archive.collector;
    if let Some(to) = shared.to {
        if collector.explicit_flags().contains(&"--bridge-url") {
            bail!("--to and --bridge-url both name a destination: give one");
        }
        if !shared.dry_run {
            return Ok(Target::Queue(to.to_string()));
        }
    }
    if shared.dry_run {
        return Ok(Target::DryRun);
    }
    let vendor = collector.vendor()?;
    let Some(url) = collector.bridge_url(&vendor) else {
        bail!("--from-archive needs a destination: --to QUEUE_URL, --bridge-url URL, or --dry-run");
    };
    let mut settings = collector.identity(url, &vendor);
    settings.extend(collector.delivery());
    Ok(Target::Bridge(settings))
}

/// The destination's client: a queue, or the shipper with its own Bridge client.
fn destination(
    target: Target,
    shared: Shared<'_>,
    sdk: Option<&aws_config::SdkConfig>,
) -> anyhow::Result<Destination> {
    Ok(match target {
        Target::DryRun => Destination::DryRun,
        Target::Bridge(settings) => {
            let config = ShipConfig::from_lookup(|k| {
                settings.get(k).cloned().or_else(|| std::env::var(k).ok())
            })?;
            Destination::Bridge(Box::new(Shipper::from_config(&config, sdk)?))
        }
        Target::Queue(to) => {
            let message_bytes = shared.message_bytes.unwrap_or(frame::DEFAULT_MESSAGE_BYTES);
            if let Err(e) = frame::pack(&[], message_bytes) {
                bail!("--message-bytes: {e}");
            }
            let conf = sdk.context("no AWS configuration")?;
            Destination::Queue {
                queue: SqsQueue::new(aws_sdk_sqs::Client::new(conf), to),
                message_bytes,
            }
        }
    })
}

/// The summary as JSON, or one line; then every error on stderr.
fn print_summary(from: &str, summary: &BackfillSummary, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(summary)?);
    } else {
        let verb = if summary.dry_run {
            "would send"
        } else {
            "sent"
        };
        println!(
            "{from}: {} objects ({} corrupt, {} more skipped), read {}, matched {}, {verb} {}, skipped {}, bad lines {}, failed {}",
            summary.objects,
            summary.corrupt_objects,
            summary.skipped_objects,
            summary.read,
            summary.matched,
            if summary.dry_run { summary.matched } else { summary.sent },
            summary.skipped,
            summary.bad_lines,
            summary.failed
        );
    }
    for e in &summary.errors {
        eprintln!("error: {e}");
    }
    Ok(())
}

/// Read every object in order and send what matches. Each object is read on a blocking thread
/// that hands batches through a small channel, so at most a few batches are in memory.
async fn backfill(
    reader: &ArchiveReader,
    objects: &[ObjectRef],
    selection: &Selection,
    dest: &Destination,
    rate: Option<f64>,
    bar: &ProgressBar,
) -> BackfillSummary {
    let mut s = BackfillSummary {
        dry_run: matches!(dest, Destination::DryRun),
        ..BackfillSummary::default()
    };
    let started = Instant::now();
    for obj in objects {
        s.objects += 1;
        let name = reader.location().display_key(&obj.key);
        let input = match reader.open(obj).await {
            Ok(i) => i,
            Err(e) => {
                s.corrupt_objects += 1;
                s.errors.push(e.to_string());
                continue;
            }
        };
        let (tx, mut rx) = mpsc::channel::<Vec<Transaction>>(2);
        let task = spawn_reader(input, selection.clone(), tx);
        while let Some(batch) = rx.recv().await {
            s.matched += batch.len() as u64;
            let (sent, err) = dest.send(&batch).await;
            s.sent += sent;
            if let Some(e) = err {
                s.failed += batch.len() as u64 - sent;
                s.errors.push(format!("{name}: {e}"));
            }
            if let Some(r) = rate.filter(|r| *r > 0.0) {
                // Hold the average at `r` records per second.
                let due = Duration::from_secs_f64(s.matched as f64 / r);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    tokio::time::sleep(wait).await;
                }
            }
        }
        s.count_read(&name, task.await);
        bar.inc(obj.size);
    }
    s
}

/// What an object's reader thread returns: the read's outcome and the records outside the
/// selection.
type ReadOutcome = (
    Result<crate::archive::source::ObjectRead, crate::archive::source::CorruptObject>,
    u64,
);

/// Read one object on a blocking thread, handing the matching records to `tx` in batches of at
/// most [`BATCH_RECORDS`] records or [`BATCH_BYTES`] bytes.
fn spawn_reader(
    input: Box<dyn std::io::Read + Send>,
    selection: Selection,
    tx: mpsc::Sender<Vec<Transaction>>,
) -> tokio::task::JoinHandle<ReadOutcome> {
    tokio::task::spawn_blocking(move || {
        let mut batch = Vec::new();
        let mut bytes = 0usize;
        let mut skipped = 0u64;
        let read = read_records_sized(input, |t, len| {
            if !selection.matches(&t) {
                skipped += 1;
                return true;
            }
            batch.push(t);
            bytes += len;
            if batch.len() >= BATCH_RECORDS || bytes >= BATCH_BYTES {
                bytes = 0;
                return tx.blocking_send(std::mem::take(&mut batch)).is_ok();
            }
            true
        });
        if !batch.is_empty() {
            let _ = tx.blocking_send(batch);
        }
        (read, skipped)
    })
}

impl BackfillSummary {
    /// Count what the reader of object `name` read, skipped and found corrupt.
    fn count_read(&mut self, name: &str, outcome: Result<ReadOutcome, tokio::task::JoinError>) {
        match outcome {
            Ok((Ok(read), skipped)) => {
                self.read += read.records;
                self.skipped += skipped;
                self.bad_lines += read.bad_lines;
                if let Some(first) = read.first_bad {
                    self.errors.push(format!(
                        "{name}: {} lines are not canonical records (skipped); first: {first}",
                        read.bad_lines
                    ));
                }
            }
            Ok((Err(e), skipped)) => {
                self.read += e.records;
                self.skipped += skipped;
                self.corrupt_objects += 1;
                self.errors.push(format!(
                    "{name}: corrupt object, skipped the rest of it: {e}"
                ));
            }
            Err(e) => {
                self.corrupt_objects += 1;
                self.errors.push(format!("{name}: reader failed: {e}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::Source;

    #[test]
    fn selection_is_half_open_and_matches_api_and_stage() {
        let mut t = Transaction::new("a".to_string(), 100, Source::default());
        t.api.id = Some("abc".into());
        t.api.stage = Some("prod".into());
        let sel = Selection {
            since_ms: Some(100),
            until_ms: Some(200),
            api: Some("abc".into()),
            stage: Some("prod".into()),
        };
        assert!(sel.matches(&t));
        t.time_ms = 200;
        assert!(!sel.matches(&t));
        t.time_ms = 150;
        t.api.stage = None;
        assert!(!sel.matches(&t));
    }
}
