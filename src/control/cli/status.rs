//! `apigw-stream status`: a deployed pipeline's health at a glance: queue depths now, a sparkline
//! per figure over `--window` (the same figures as the stack's dashboard), what is wrong and what
//! to run. `--json` for scripts. Exits 1 when something is a problem (messages dead-lettered,
//! a queue unreadable), 0 otherwise.

use std::process::ExitCode;
use std::time::Duration;

pub use super::values::parse_span;
use crate::control::aws::AwsArgs;
use crate::control::ops::status::{self, CloudWatch, Severity, Window};
use crate::control::ops::DEFAULT_STACK_NAME;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub aws: AwsArgs,
    /// The pipeline stack (its queues and functions).
    #[arg(long, default_value = DEFAULT_STACK_NAME)]
    pub stack_name: String,
    /// How far back to look (e.g. 30m, 3h, 1d).
    #[arg(long, default_value = "3h", value_parser = parse_span)]
    pub window: Duration,
    /// One point per this long (at least 1m).
    #[arg(long, default_value = "5m", value_parser = parse_span)]
    pub period: Duration,
    /// JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let base = args.aws.load().await;
    let region = base
        .region()
        .map(|r| r.to_string())
        .ok_or_else(|| anyhow::anyhow!("no region: pass --region or set AWS_REGION"))?;
    let cfn = aws_sdk_cloudformation::Client::new(&base);
    let res = status::resources(&cfn, &args.stack_name, &region).await?;
    let sqs = aws_sdk_sqs::Client::new(&base);
    let cw = CloudWatch(aws_sdk_cloudwatch::Client::new(&base));
    let window = Window::ending(
        crate::runtime::clock::now_ms() / 1000,
        u32::try_from(args.window.as_secs()).unwrap_or(u32::MAX),
        u32::try_from(args.period.as_secs()).unwrap_or(u32::MAX),
    );
    let report = status::collect(&res, &sqs, &cw, window).await;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", status::render(&report));
    }
    Ok(if report.worst() == Some(Severity::Problem) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
