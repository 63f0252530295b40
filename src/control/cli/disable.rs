//! `apigw-stream disable`: remove our subscription filters and 1 MB deliveries, restore the
//! execution-logging method settings `enable` changed, and, with `--restore-logging`, turn off the
//! access logging `enable` set, on the selected stages.

use std::process::ExitCode;

use crate::control::aws::AwsArgs;
use crate::control::cli::enable::{print_report, PlanArgs, SelectArgs};
use crate::control::ops::disable::DisableOptions;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Also turn off access logging where its format is the one `enable` sets (log groups are kept).
    #[arg(long)]
    pub restore_logging: bool,
    #[command(flatten)]
    pub plan: PlanArgs,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let base = args.aws.load().await;
    let resolved = args.select.resolve(base.region().map(|r| r.as_ref()))?;
    let opts = DisableOptions {
        restore_logging: args.restore_logging,
    };
    let report = crate::control::ops::disable::disable(
        &base,
        &resolved.regions,
        resolved.from_all,
        &resolved.selection,
        &opts,
        args.plan.apply,
    )
    .await;
    print_report(&report, &args.plan)
}
