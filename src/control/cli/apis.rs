//! `apigw-stream apis`: every REST, HTTP and WebSocket API with its stages, access logging
//! (group, format class), whether our subscription filter is on the group, which log the stage
//! is streamed from (access / execution / execution 1 MB / none) and, for REST, its execution
//! logging level and data tracing.

use std::process::ExitCode;

use serde::Serialize;

use crate::control::aws::AwsArgs;
use crate::control::ops::discover::{discover_regions, Kinds, RegionInventory, StageInfo};
use crate::control::ops::regions;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub aws: AwsArgs,
    /// `all` (the partition's regions), or a comma-separated list (default: --region).
    #[arg(long, value_name = "all|LIST")]
    pub regions: Option<String>,
    /// JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Output<'a> {
    regions: Vec<&'a RegionInventory>,
    skipped_regions: &'a [String],
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let base = args.aws.load().await;
    let spec = args.regions.as_deref();
    let from_all = spec.is_some_and(|s| s.trim().eq_ignore_ascii_case("all"));
    let list = regions::resolve(spec, base.region().map(|r| r.as_ref()))?;
    let inv = discover_regions(&base, &list, from_all, Kinds::default()).await;
    let invs: Vec<&RegionInventory> = inv.regions.iter().map(|(_, i)| i).collect();
    let errors: Vec<String> = invs
        .iter()
        .flat_map(|i| i.errors.iter().map(move |e| format!("{}: {e}", i.region)))
        .collect();
    if args.json {
        let out = Output {
            regions: invs,
            skipped_regions: &inv.skipped_regions,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        let stages: Vec<&StageInfo> = invs.iter().flat_map(|i| i.stages.iter()).collect();
        print!("{}", table(&stages));
        for r in &inv.skipped_regions {
            println!("skipped {r}: not enabled for this account");
        }
        for e in &errors {
            eprintln!("error: {e}");
        }
    }
    Ok(if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Where the stage is streamed from: `access`, `execution`, `execution 1 MB`, or `none`.
fn mode(st: &StageInfo) -> String {
    if st.streamed_from.is_empty() {
        return "none".to_string();
    }
    let names: Vec<&str> = st.streamed_from.iter().map(|s| s.as_str()).collect();
    names.join(" + ")
}

/// Who enabled streaming: `policy` for the auto-enable control function (its stage tag), `-`
/// otherwise (by hand, or not streamed).
fn enabled_by(st: &StageInfo) -> String {
    match (&st.enabled_by, st.streamed_from.is_empty()) {
        (Some(by), false) => by.clone(),
        (Some(by), true) => format!("{by} (not streamed)"),
        (None, _) => "-".to_string(),
    }
}

/// REST: the `*/*` logging level and data tracing (`INFO, data trace on`); `-` for other kinds.
fn execution_logging(st: &StageInfo) -> String {
    match &st.execution {
        None => "-".to_string(),
        Some(x) => {
            let m = x.method_or_off();
            let trace = if m.data_trace { "on" } else { "off" };
            format!("{}, data trace {trace}", m.logging_level)
        }
    }
}

/// The table for people: one line per stage.
pub fn table(stages: &[&StageInfo]) -> String {
    let header = [
        "REGION",
        "KIND",
        "API",
        "NAME",
        "STAGE",
        "ACCESS LOG",
        "FORMAT",
        "FILTER",
        "MODE",
        "BY",
        "EXEC LOG",
    ];
    let mut rows: Vec<[String; 11]> = Vec::new();
    for st in stages {
        let (dest, format) = match &st.access_log {
            None => ("off".to_string(), "-".to_string()),
            Some(al) => (
                al.log_group
                    .clone()
                    .unwrap_or_else(|| al.destination_arn.clone()),
                al.format_class.map_or("-".to_string(), |c| c.to_string()),
            ),
        };
        let filter = match &st.log_group {
            None if st.access_log.is_some() => "?".to_string(),
            None => "-".to_string(),
            Some(g) if !g.exists => "group missing".to_string(),
            Some(g) => {
                let foreign = g.foreign().count();
                let ours = g
                    .ours()
                    .next()
                    .map_or("no".to_string(), |f| format!("yes ({})", f.name));
                if foreign > 0 {
                    format!("{ours} +{foreign} other")
                } else {
                    ours
                }
            }
        };
        rows.push([
            st.stage.region.clone(),
            st.stage.kind.to_string(),
            st.stage.api_id.clone(),
            st.api_name.clone().unwrap_or_default(),
            st.stage.stage.clone(),
            dest,
            format,
            filter,
            mode(st),
            enabled_by(st),
            execution_logging(st),
        ]);
    }
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let parts: Vec<String> = cells
            .iter()
            .zip(widths.iter())
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    for r in &rows {
        line(r.iter().map(String::as_str).collect(), &mut out);
    }
    out
}
