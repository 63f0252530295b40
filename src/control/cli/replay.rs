//! `apigw-stream replay`: move dead-lettered messages back to the queue (shipper DLQ), or decode
//! the failed invocations' events and send their frames (decode DLQ).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Serialize;

use super::progress::progress_bar;
use super::replay_archive::{self, ArchiveArgs, Shared};
use super::values::parse_age;
use crate::control::aws::AwsArgs;
use crate::control::ops::replay::{
    self, Invoker, LambdaInvoker, ReplayOptions, ReplaySummary, SourceKind,
};
use crate::control::ops::{stack, DEFAULT_STACK_NAME};
use crate::decode::DecodeOptions;
use crate::transport::frame;
use crate::transport::queue::SqsQueue;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Tell each message apart (destination records are decoded, the rest are frames).
    Auto,
    Shipper,
    Decode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Dlq {
    Shipper,
    Decode,
    Both,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Source DLQ URL (default: the stack's ShipperDlqUrl and/or DecodeDlqUrl, see --dlq).
    #[arg(long, value_name = "URL")]
    pub from: Option<String>,
    /// Destination queue URL (default: the stack's QueueUrl).
    #[arg(long, value_name = "URL")]
    pub to: Option<String>,
    /// Which of the stack's DLQs to replay when --from is omitted.
    #[arg(long, value_enum, default_value_t = Dlq::Both)]
    pub dlq: Dlq,
    /// What --from holds.
    #[arg(long, value_enum, default_value_t = Kind::Auto)]
    pub kind: Kind,
    /// The pipeline stack (queue URLs, decode function export).
    #[arg(long, default_value = DEFAULT_STACK_NAME)]
    pub stack_name: String,
    /// Move at most this many messages per DLQ.
    #[arg(long)]
    pub max: Option<u64>,
    /// At most this many messages per second (records per second with --from-archive).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Read and decode, but send and delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Only messages that have been in the DLQ at least this long (e.g. 90s, 30m, 2h, 1d).
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    pub older_than: Option<Duration>,
    /// Decode-DLQ records: re-invoke the decode function (asynchronously) instead of decoding here.
    #[arg(long)]
    pub invoke: bool,
    /// The decode function for --invoke (default: the stack's export).
    #[arg(long, value_name = "ARN")]
    pub function_arn: Option<String>,
    /// Frame size bound for decoded records (default: the decode function's MESSAGE_BYTES).
    #[arg(long, value_parser = crate::config::settings::MESSAGE_BYTES.clap_usize())]
    pub message_bytes: Option<usize>,
    /// Never use an SQS message-move task for the shipper DLQ (always receive → send → delete).
    #[arg(long)]
    pub no_move_task: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Backfill from the archive instead of a DLQ (see `replay_archive`).
    #[command(flatten)]
    pub archive: ArchiveArgs,
}

#[derive(Debug, Serialize)]
struct SourceReport {
    from: String,
    to: String,
    kind: SourceKind,
    #[serde(flatten)]
    summary: ReplaySummary,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.archive.from_archive.is_some() {
        let shared = Shared {
            aws: &args.aws,
            to: args.to.as_deref(),
            dry_run: args.dry_run,
            rate: args.rate,
            message_bytes: args.message_bytes,
            json: args.json,
        };
        return replay_archive::run(&args.archive, shared).await;
    }
    let collector_flags = args.archive.collector.explicit_flags();
    if !collector_flags.is_empty() {
        bail!(
            "{} ship to a collector: only with --from-archive",
            collector_flags.join(", ")
        );
    }
    let base = args.aws.load().await;
    if base.region().is_none() {
        bail!("no region: pass --region or set AWS_REGION");
    }
    let sqs = aws_sdk_sqs::Client::new(&base);
    let cfn = aws_sdk_cloudformation::Client::new(&base);
    let lambda = aws_sdk_lambda::Client::new(&base);
    let (to, sources) = queues(&args, &cfn).await?;
    let decodes = sources.iter().any(|(_, k)| *k != SourceKind::Shipper);
    let function = if decodes {
        decode_function(&args, &cfn).await?
    } else {
        None
    };
    let region = base.region().map(|r| r.to_string());
    let opts = replay_options(&args, &lambda, function.as_deref(), region).await?;
    let invoker = match (function, args.invoke) {
        (Some(function), true) => Some(LambdaInvoker {
            client: lambda.clone(),
            function,
        }),
        _ => None,
    };

    let mut reports = Vec::new();
    for (from, kind) in sources {
        let summary = replay_source(&args, &sqs, &from, &to, kind, &opts, invoker.as_ref()).await;
        reports.push(SourceReport {
            from,
            to: to.clone(),
            kind,
            summary,
        });
    }
    print_reports(&reports, args.json)?;
    let failed: u64 = reports.iter().map(|r| r.summary.failed).sum();
    let errors: usize = reports.iter().map(|r| r.summary.errors.len()).sum();
    Ok(if failed > 0 || errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The destination queue and the DLQs to replay: from the flags, else the stack's outputs.
async fn queues(
    args: &Args,
    cfn: &aws_sdk_cloudformation::Client,
) -> anyhow::Result<(String, Vec<(String, SourceKind)>)> {
    let needs_stack = args.from.is_none() || args.to.is_none();
    let outputs = if needs_stack {
        stack::stack_outputs(cfn, &args.stack_name)
            .await
            .with_context(|| "cannot find the queues: pass --from and --to, or --stack-name")?
    } else {
        Default::default()
    };
    let output =
        |name: &str, flag: &str| stack::required_output(&outputs, &args.stack_name, name, flag);
    let to = match &args.to {
        Some(u) => u.clone(),
        None => output(stack::OUTPUT_QUEUE_URL, "--to")?,
    };
    let kind = match args.kind {
        Kind::Auto => SourceKind::Auto,
        Kind::Shipper => SourceKind::Shipper,
        Kind::Decode => SourceKind::Decode,
    };
    let mut sources = Vec::new();
    match &args.from {
        Some(u) => sources.push((u.clone(), kind)),
        None => {
            if matches!(args.dlq, Dlq::Shipper | Dlq::Both) {
                let url = output(stack::OUTPUT_SHIPPER_DLQ_URL, "--from")?;
                sources.push((url, SourceKind::Shipper));
            }
            if matches!(args.dlq, Dlq::Decode | Dlq::Both) {
                let url = output(stack::OUTPUT_DECODE_DLQ_URL, "--from")?;
                sources.push((url, SourceKind::Decode));
            }
        }
    }
    Ok((to, sources))
}

/// The decode function: re-invoked with --invoke, else the source of the decode settings
/// (filters, redaction, MESSAGE_BYTES) applied to decode-DLQ records.
async fn decode_function(
    args: &Args,
    cfn: &aws_sdk_cloudformation::Client,
) -> anyhow::Result<Option<String>> {
    if let Some(a) = &args.function_arn {
        return Ok(Some(a.clone()));
    }
    match stack::decode_function_arn(cfn, &args.stack_name).await {
        Ok(a) => Ok(Some(a)),
        Err(e) if args.invoke => Err(e.into()),
        Err(e) => {
            eprintln!("warning: {e}; decode-DLQ records are decoded with the default settings");
            Ok(None)
        }
    }
}

/// What every source shares: limits from the flags, decode settings from the deployed function.
async fn replay_options(
    args: &Args,
    lambda: &aws_sdk_lambda::Client,
    function: Option<&str>,
    region: Option<String>,
) -> anyhow::Result<ReplayOptions> {
    let mut decode = DecodeOptions {
        region: region.clone(),
        ..Default::default()
    };
    let mut message_bytes = frame::DEFAULT_MESSAGE_BYTES;
    if let (Some(f), false) = (function, args.invoke) {
        let (o, m) = replay::function_decode_settings(lambda, f, region.as_deref()).await?;
        decode = o;
        message_bytes = m;
    }
    if let Some(m) = args.message_bytes {
        message_bytes = m;
    }
    if let Err(e) = frame::pack(&[], message_bytes) {
        bail!("--message-bytes: {e}");
    }
    Ok(ReplayOptions {
        kind: SourceKind::Auto,
        max: args.max,
        rate: args.rate,
        dry_run: args.dry_run,
        older_than: args.older_than,
        message_bytes,
        decode,
        ..Default::default()
    })
}

/// Replay one DLQ: a message-move task for the shipper DLQ when nothing asks for per-message
/// choices (max, age, dry run), else receive → send → delete.
async fn replay_source(
    args: &Args,
    sqs: &aws_sdk_sqs::Client,
    from: &str,
    to: &str,
    kind: SourceKind,
    opts: &ReplayOptions,
    invoker: Option<&LambdaInvoker>,
) -> ReplaySummary {
    let depth = replay::queue_depth(sqs, from).await;
    let bar = progress_bar(depth.map(|d| args.max.map_or(d, |m| m.min(d))));
    let plain =
        args.max.is_none() && args.older_than.is_none() && !args.dry_run && !args.no_move_task;
    if kind == SourceKind::Shipper && plain {
        // SQS moves to the destination we name.
        match replay::move_task(sqs, from, to, args.rate.map(|r| r.ceil() as u32), &bar).await {
            Ok(res) => {
                bar.finish_and_clear();
                let failed = res.status != "COMPLETED";
                return ReplaySummary {
                    method: "message-move-task".to_string(),
                    moved: res.moved,
                    failed: u64::from(failed),
                    errors: res
                        .failure_reason
                        .map(|r| vec![format!("move task {}: {r}", res.status)])
                        .unwrap_or_default(),
                    ..Default::default()
                };
            }
            Err(e) => {
                tracing::info!(
                    "message-move task not available ({e}); receiving and sending instead"
                )
            }
        }
    }
    let source = SqsQueue::new(sqs.clone(), from.to_string());
    let dest = SqsQueue::new(sqs.clone(), to.to_string());
    let kind_opts = ReplayOptions {
        kind,
        ..opts.clone()
    };
    let summary = replay::replay(
        &source,
        &dest,
        invoker.map(|i| i as &dyn Invoker),
        &kind_opts,
        &bar,
    )
    .await;
    bar.finish_and_clear();
    summary
}

fn print_reports(reports: &[SourceReport], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(reports)?);
        return Ok(());
    }
    for r in reports {
        let s = &r.summary;
        let verb = if s.dry_run { "would move" } else { "moved" };
        println!(
            "{} → {} ({}): {verb} {}, skipped {}, failed {} [received {}, frames sent {}, invoked {}]",
            r.from, r.to, s.method, s.moved, s.skipped, s.failed, s.received, s.frames_sent, s.invoked
        );
        if s.decode.payloads > 0 {
            println!(
                "    decoded: {} records, {} filtered, {} unparsed lines, {} control messages",
                s.decode.records,
                s.decode.filtered,
                s.decode.lines_unparsed,
                s.decode.control_messages
            );
        }
        for e in &s.errors {
            eprintln!("error: {e}");
        }
    }
    Ok(())
}
