//! `apigw-stream local [INPUT ...]`: the whole pipeline in one process — decode → queue → shipper →
//! Bridge — with an embedded queue and Bridge receiver unless real ones are named.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::mpsc;

use super::collector::CollectorArgs;
use super::decode::DecodeFlags;
use super::env_file::VendorEnv;
use crate::config::settings as s;
use crate::control::aws::AwsArgs;
use crate::control::generate::{GenerateOptions, Generator, LogKind};
use crate::control::pipeline::{
    summary_table, Input, LocalPipeline, PipelineOptions, Progress, Stitching, Summary,
};
use crate::decode::JoinRule;
use crate::ship::bridge::receiver::{Receiver, ReceiverConfig};
use crate::ship::bridge::Secret;
use crate::ship::{ShipConfig, Shipper};
use crate::stitch::StitchOptions;
use crate::transport::queue::{MemoryQueue, Queue, SqsQueue};

/// Requests generated when neither inputs nor --generate are given.
const DEFAULT_GENERATE: u64 = 100_000;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Payload files or directories (every form `decode` accepts); `-` for stdin.
    pub inputs: Vec<PathBuf>,
    /// Generate N synthetic requests instead of reading inputs (default 100000 with no inputs).
    #[arg(long, value_name = "N", conflicts_with = "inputs")]
    pub generate: Option<u64>,
    /// Seed of the synthetic traffic.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Which logs --generate writes: access, execution or delivery (1 MB execution logs).
    #[arg(long, default_value = "access", value_parser = super::generate::parse_logs)]
    pub logs: LogKind,

    /// SQS queue URL (default: an embedded in-process queue).
    #[arg(long, env = s::QUEUE_URL.name)]
    pub queue_url: Option<String>,
    /// Dead-letter queue URL of --queue-url (its redrive target), to count what ends there.
    #[arg(long, requires = "queue_url")]
    pub dlq_url: Option<String>,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// FIFO queue for stitching split requests (default: an embedded FIFO queue).
    #[arg(long, env = s::STITCH_QUEUE_URL.name)]
    pub stitch_queue_url: Option<String>,
    #[arg(long, env = s::STITCH_HOLD_SECS.name, help = s::STITCH_HOLD_SECS.doc,
          default_value_t = s::STITCH_HOLD_SECS.int_default(), value_parser = s::STITCH_HOLD_SECS.clap_u64())]
    pub stitch_hold_secs: u64,
    #[arg(long, env = s::JOIN_STAGES.name, help = s::JOIN_STAGES.doc)]
    pub join_stages: Option<String>,
    /// No stitching: a request cut across payloads is delivered as one partial record per part
    /// (what `decode` prints).
    #[arg(long, conflicts_with_all = ["stitch_queue_url", "join_stages"])]
    pub no_stitch: bool,
    /// Receives before a message moves to the dead-letter queue (embedded queue; SQS uses its redrive policy).
    #[arg(long, default_value_t = 5)]
    pub max_receive: u32,
    /// Visibility timeout of received messages, in seconds.
    #[arg(long, default_value_t = 30)]
    pub visibility_timeout: u64,

    #[command(flatten)]
    pub collector: CollectorArgs,
    /// Where the embedded receiver writes what it accepts.
    #[arg(long, default_value = "apigw-stream-out")]
    pub out: PathBuf,

    #[arg(long, env = s::MESSAGE_BYTES.name, help = s::MESSAGE_BYTES.doc,
          default_value_t = s::MESSAGE_BYTES.int_default() as usize, value_parser = s::MESSAGE_BYTES.clap_usize())]
    pub message_bytes: usize,
    #[command(flatten)]
    pub decode: DecodeFlags,
    /// Concurrent decode workers (default: one per CPU).
    #[arg(long)]
    pub decode_workers: Option<usize>,
    /// Concurrent shipper batches (like concurrent shipper Lambda invocations).
    #[arg(long, default_value_t = 4)]
    pub shipper_workers: usize,
    /// Give up waiting for the queue to empty after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub drain_timeout: u64,

    // As for the decode Lambda; the stream is reached with --region / --endpoint-url.
    #[arg(long, env = s::ARCHIVE_STREAM.name, help = s::ARCHIVE_STREAM.doc, value_name = "NAME")]
    pub archive_stream: Option<String>,
    /// Also archive every record into DIR, as gzip NDJSON objects laid out like the S3 archive
    /// (DIR/apigw-stream/v1/year=…/month=…/day=…/hour=…/).
    #[arg(long, value_name = "DIR", conflicts_with = "archive_stream")]
    pub archive_dir: Option<PathBuf>,

    /// Also write the summary as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// No progress display.
    #[arg(long)]
    pub quiet: bool,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let vendor = args.collector.vendor()?;
    let (settings, receiver) = bridge_settings(&args, &vendor).await?;
    // The same parsing and checks as the shipper Lambda's environment.
    let ship_config = ShipConfig::from_lookup(|k| settings.get(k).cloned())?;
    let sqs_config = match &args.queue_url {
        Some(_) => Some(args.aws.load().await),
        None => None,
    };
    let shipper = Shipper::from_config(&ship_config, sqs_config.as_ref())?;
    let queues = queues(&args, sqs_config.as_ref());
    let opts = pipeline_options(&args, &vendor, queues.max_queued);
    let pipeline = LocalPipeline::new(
        queues.queue,
        queues.dlq,
        Arc::new(shipper),
        receiver.clone(),
        opts,
    );
    if let Some(archiver) = archiver(&args).await {
        pipeline.set_archive(archiver);
    }
    if let Some(stitching) = stitching(&args).await {
        pipeline.set_stitch(stitching);
    }

    // Inputs: generated, or read from files, through a channel of one: bounded memory, and a
    // payload waiting here counts in its records' latency (see `max_queued` below).
    let (tx, rx) = mpsc::channel::<Input>(1);
    let expected = match (&args.generate, args.inputs.is_empty()) {
        (Some(n), _) => Some(*n),
        (None, true) => Some(DEFAULT_GENERATE),
        (None, false) => None,
    };
    let producer = match expected {
        Some(n) => spawn_generator(n, args.seed, args.logs, tx),
        None => spawn_reader(args.inputs.clone(), tx),
    };
    if let Some(r) = &receiver {
        eprintln!(
            "apigw-stream local: embedded Bridge receiver on {}, writing to {}",
            r.base_url(),
            args.out.display()
        );
    }
    let progress = (!args.quiet).then(|| spawn_progress(pipeline.clone(), expected));
    let summary = pipeline.clone().run(rx).await;
    let read_errors = producer.await.unwrap_or(1);
    if let Some((stop, handle)) = progress {
        let _ = stop.send(());
        let _ = handle.await;
    }
    report(&summary, args.summary_json.as_deref())?;
    Ok(exit_code(&summary, read_errors))
}

/// Receives of a fragment before the embedded stitch queue dead-letters it: a held fragment is
/// received again after each wait (waits double from 100 ms up to what is left of the hold).
const STITCH_MAX_RECEIVE: u32 = 50;

/// The stitch stage: the queue named by --stitch-queue-url, else an embedded FIFO queue.
async fn stitching(args: &Args) -> Option<Stitching> {
    if args.no_stitch {
        return None;
    }
    let join = JoinRule::new(
        args.join_stages
            .as_deref()
            .unwrap_or_default()
            .split([',', ' '])
            .map(str::to_string),
    );
    let hold = Duration::from_secs(args.stitch_hold_secs);
    let (queue, step, flush_at_end): (Arc<dyn Queue>, _, _) = match &args.stitch_queue_url {
        Some(url) => {
            let conf = args.aws.load().await;
            let client = aws_sdk_sqs::Client::new(&conf);
            // SQS counts visibility in whole seconds.
            (
                Arc::new(SqsQueue::new(client, url.clone())),
                Duration::from_secs(1),
                false,
            )
        }
        None => {
            let dlq = Arc::new(MemoryQueue::new("embedded-stitch-dlq"));
            let queue =
                MemoryQueue::with_dead_letter_queue("embedded-stitch", dlq, STITCH_MAX_RECEIVE)
                    .fifo();
            (Arc::new(queue), Duration::from_millis(100), true)
        }
    };
    Some(Stitching {
        queue,
        options: StitchOptions { hold, step },
        join,
        workers: 2,
        flush_at_end,
    })
}

/// The archive tee named by --archive-stream or --archive-dir.
async fn archiver(args: &Args) -> Option<crate::archive::Archiver> {
    use crate::archive::{ArchivePolicy, ArchiveSink, Archiver, DirSink, FirehoseSink};
    let sink: Arc<dyn ArchiveSink> = match (&args.archive_stream, &args.archive_dir) {
        (Some(stream), _) => {
            let conf = args.aws.load().await;
            Arc::new(FirehoseSink::new(
                aws_sdk_firehose::Client::new(&conf),
                stream.clone(),
            ))
        }
        (None, Some(dir)) => Arc::new(DirSink::new(dir.clone())),
        (None, None) => return None,
    };
    eprintln!(
        "apigw-stream local: archiving every record to {}",
        sink.name()
    );
    Some(Archiver::new(sink, ArchivePolicy::default()))
}

/// The shipper's settings by their environment names: the Bridge named by flags or the vendor
/// file, or the embedded receiver (started here, with fresh credentials).
async fn bridge_settings(
    args: &Args,
    vendor: &VendorEnv,
) -> anyhow::Result<(HashMap<&'static str, String>, Option<Arc<Receiver>>)> {
    let mut settings: HashMap<&'static str, String> = HashMap::new();
    let mut receiver = None;
    match args.collector.bridge_url(vendor) {
        Some(url) => settings.extend(args.collector.identity(url, vendor)),
        None => {
            let client_id = "apigw-stream-local".to_string();
            let secret = uuid::Uuid::new_v4().to_string();
            let config = ReceiverConfig {
                client_id: Some(client_id.clone()),
                client_secret: Some(Secret::new(secret.clone())),
                out_dir: Some(args.out.clone()),
                ..ReceiverConfig::default()
            };
            let listen: SocketAddr = ([127, 0, 0, 1], 0).into();
            let r = Receiver::start(listen, config)
                .await
                .context("cannot start the embedded Bridge receiver")?;
            settings.insert(s::BRIDGE_URL.name, r.transactions_url());
            settings.insert(s::AUTH_URL.name, r.token_url());
            settings.insert(s::CLIENT_ID.name, client_id);
            settings.insert(s::CLIENT_SECRET.name, secret);
            // Our own receiver on the loopback interface.
            settings.insert(s::ALLOW_INSECURE_HTTP.name, "true".to_string());
            receiver = Some(Arc::new(r));
        }
    }
    settings.extend(args.collector.delivery());
    Ok((settings, receiver))
}

/// The queue, its dead-letter queue, and a bound on queued messages (embedded queue only).
struct Queues {
    queue: Arc<dyn Queue>,
    dlq: Option<Arc<dyn Queue>>,
    max_queued: Option<usize>,
}

fn queues(args: &Args, sqs_config: Option<&aws_config::SdkConfig>) -> Queues {
    match (&args.queue_url, sqs_config) {
        (Some(url), Some(conf)) => {
            let client = aws_sdk_sqs::Client::new(conf);
            let dlq = args
                .dlq_url
                .as_ref()
                .map(|u| Arc::new(SqsQueue::new(client.clone(), u.clone())) as Arc<dyn Queue>);
            Queues {
                queue: Arc::new(SqsQueue::new(client, url.clone())),
                dlq,
                max_queued: None,
            }
        }
        _ => {
            let dlq = Arc::new(MemoryQueue::new("embedded-dlq"));
            let queue =
                MemoryQueue::with_dead_letter_queue("embedded", dlq.clone(), args.max_receive);
            Queues {
                queue: Arc::new(queue),
                dlq: Some(dlq as Arc<dyn Queue>),
                // About 5,000 records: enough to keep the shipper busy, and each queued
                // message adds to every later record's latency. With 4 inputs and 64 messages
                // a 1M-record run had p99 155-190 ms; with 1 and 8, 105-130 ms at the same
                // throughput (docs/performance.md).
                max_queued: Some(8),
            }
        }
    }
}

fn pipeline_options(args: &Args, vendor: &VendorEnv, max_queued: Option<usize>) -> PipelineOptions {
    let mut opts = PipelineOptions {
        decode: args.decode.options(),
        message_bytes: args.message_bytes,
        shipper_workers: args.shipper_workers.max(1),
        visibility_timeout: Duration::from_secs(args.visibility_timeout.max(1)),
        ship_timeout: Duration::from_secs(args.visibility_timeout.saturating_sub(2).max(1)),
        max_queued_messages: max_queued,
        drain_timeout: Duration::from_secs(args.drain_timeout),
        ..PipelineOptions::default()
    };
    apply_vendor_filters(&mut opts, vendor);
    if let Some(n) = args.decode_workers {
        opts.decode_workers = n.max(1);
    }
    opts
}

/// The summary table on stdout, and as JSON to `json` when asked.
fn report(summary: &Summary, json: Option<&Path>) -> anyhow::Result<()> {
    println!("{}", summary_table(summary));
    if let Some(path) = json {
        let text = serde_json::to_vec_pretty(summary)?;
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// Non-zero when a record was lost or dead-lettered, when a request reached the collector as two
/// transactions, when nothing of what was read was delivered, or when an input could not be read
/// or decoded.
fn exit_code(summary: &Summary, read_errors: usize) -> ExitCode {
    if summary.archive_failed_records > 0 {
        eprintln!(
            "apigw-stream local: {} delivered records were not archived",
            summary.archive_failed_records
        );
    }
    let to_deliver = summary.records_in.saturating_sub(summary.filtered);
    let nothing_delivered = to_deliver > 0 && summary.records_delivered == 0;
    let dead = summary.dead_lettered > 0 || summary.dead_letter_messages > 0;
    if summary.lost == 0
        && summary.archive_failed_records == 0
        && !dead
        && !nothing_delivered
        && summary.payload_errors == 0
        && summary.split_deliveries == 0
        && summary.send_failures == 0
        && read_errors == 0
    {
        return ExitCode::SUCCESS;
    }
    if summary.lost > 0 {
        eprintln!(
            "apigw-stream local: {} records lost (neither delivered, filtered nor dead-lettered)",
            summary.lost
        );
    }
    if dead {
        eprintln!(
            "apigw-stream local: {} records in {} messages ended in the dead-letter queue (see the warnings above for why; an embedded queue is gone when this process ends)",
            summary.dead_lettered, summary.dead_letter_messages
        );
    }
    if summary.split_deliveries > 0 {
        eprintln!(
            "apigw-stream local: {} requests reached the collector as two transactions (their parts never met in the stitch stage)",
            summary.split_deliveries
        );
    }
    if nothing_delivered {
        eprintln!(
            "apigw-stream local: none of the {to_deliver} records read was delivered to the collector"
        );
    }
    ExitCode::from(1)
}

/// The vendor file's filter settings, where flags left the defaults: API toggles are off when
/// either says off; lists apply when no flag or variable gave one.
fn apply_vendor_filters(opts: &mut PipelineOptions, vendor: &VendorEnv) {
    let filter = &mut opts.decode.filter;
    if vendor.rest_api_enabled == Some(false) {
        filter.rest_api_enabled = false;
    }
    if vendor.http_api_enabled == Some(false) {
        filter.http_api_enabled = false;
    }
    let defaults = crate::decode::filter::FilterConfig::default();
    if let Some(ext) = &vendor.static_file_extensions {
        if filter.static_file_extensions == defaults.static_file_extensions {
            filter.static_file_extensions = crate::decode::filter::parse_extensions(&ext.join(","));
        }
    }
    if let Some(types) = &vendor.res_content_types {
        if filter.response_content_types == defaults.response_content_types {
            filter.response_content_types = crate::decode::filter::parse_list(&types.join(","));
        }
    }
}

fn spawn_generator(
    requests: u64,
    seed: u64,
    logs: LogKind,
    tx: mpsc::Sender<Input>,
) -> tokio::task::JoinHandle<usize> {
    tokio::task::spawn_blocking(move || {
        let opts = GenerateOptions {
            requests,
            seed,
            // Stamped as produced, so latency runs from "logged" to "accepted".
            start_ms: None,
            // Cheaper than CloudWatch's level 6; the decoder reads both alike.
            compression: 1,
            logs,
            ..GenerateOptions::default()
        };
        for (i, p) in Generator::new(opts).enumerate() {
            let input = Input {
                name: format!("generated payload #{}", i + 1),
                logged_ms: Some(p.logged_ms),
                bytes: p.event,
            };
            if tx.blocking_send(input).is_err() {
                break;
            }
        }
        0
    })
}

/// Files in `path` (recursively, sorted), or `path` itself.
fn collect_files(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for e in entries {
            collect_files(&e, out)?;
        }
    } else {
        out.push(path.to_path_buf());
    }
    Ok(())
}

fn spawn_reader(inputs: Vec<PathBuf>, tx: mpsc::Sender<Input>) -> tokio::task::JoinHandle<usize> {
    tokio::task::spawn_blocking(move || {
        let mut errors = 0;
        let mut files = Vec::new();
        for input in &inputs {
            if input.as_os_str() == "-" {
                files.push(input.clone());
            } else if let Err(e) = collect_files(input, &mut files) {
                eprintln!("apigw-stream local: {}: {e}", input.display());
                errors += 1;
            }
        }
        for file in files {
            let bytes = if file.as_os_str() == "-" {
                let mut buf = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf).map(|_| buf)
            } else {
                std::fs::read(&file)
            };
            match bytes {
                Ok(bytes) => {
                    let input = Input {
                        name: file.display().to_string(),
                        bytes,
                        logged_ms: None,
                    };
                    if tx.blocking_send(input).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    eprintln!("apigw-stream local: {}: {e}", file.display());
                    errors += 1;
                }
            }
        }
        errors
    })
}

fn progress_line(p: &Progress, rate: f64) -> String {
    format!(
        "decoded {} · delivered {} · {:.0} records/s · filtered {} · unparsed {} · windows {} · retries {} · failed messages {}",
        p.records_decoded, p.records_delivered, rate, p.filtered, p.lines_unparsed, p.windows, p.retries, p.failed_messages
    )
}

/// Progress on stderr: a bar on a terminal, a plain line every 5 s otherwise.
fn spawn_progress(
    pipeline: Arc<LocalPipeline>,
    expected: Option<u64>,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        let tty = std::io::stderr().is_terminal();
        let bar = tty.then(|| {
            let bar = match expected {
                Some(n) => indicatif::ProgressBar::new(n),
                None => indicatif::ProgressBar::new_spinner(),
            };
            let style = indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len}  {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        let start = tokio::time::Instant::now();
        let tick = if tty {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(5)
        };
        let mut interval = tokio::time::interval(tick);
        interval.tick().await;
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                _ = &mut stop_rx => break,
            }
            let p = pipeline.progress();
            let secs = start.elapsed().as_secs_f64().max(0.001);
            let rate = p.records_delivered as f64 / secs;
            match &bar {
                Some(bar) => {
                    // Requests accounted for: delivered, filtered or unparsable.
                    bar.set_position(p.records_delivered + p.filtered + p.lines_unparsed);
                    bar.set_message(format!(
                        "delivered {} · {:.0}/s · filtered {} · retries {} · failed msgs {}",
                        p.records_delivered, rate, p.filtered, p.retries, p.failed_messages
                    ));
                }
                None => eprintln!("apigw-stream local: {}", progress_line(&p, rate)),
            }
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
    });
    (stop_tx, handle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_filters_fill_defaults_only() {
        let mut opts = PipelineOptions::default();
        let vendor = VendorEnv {
            rest_api_enabled: Some(false),
            static_file_extensions: Some(vec![".js".into(), "css".into()]),
            ..VendorEnv::default()
        };
        apply_vendor_filters(&mut opts, &vendor);
        assert!(!opts.decode.filter.rest_api_enabled);
        assert!(opts.decode.filter.http_api_enabled);
        assert_eq!(
            opts.decode.filter.static_file_extensions,
            vec!["js".to_string(), "css".to_string()]
        );
    }
}
