//! `apigw-stream enable`: turn on access logging (or, for REST, execution logging) and add our
//! subscription filter, per stage.
//! Also holds the selector flags and the report printing that `disable` shares.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};

use super::values::parse_retention;
use crate::control::aws::AwsArgs;
use crate::control::cli::env_file::VendorEnv;
use crate::control::ops::discover::Kinds;
use crate::control::ops::enable::{EnableOptions, DEFAULT_RETENTION_DAYS};
use crate::control::ops::plan::{Report, Status};
use crate::control::ops::select::{
    parse_api_config, ApiSelector, Selection, Selector, VendorSettings,
};
use crate::control::ops::{regions, DEFAULT_STACK_NAME};

/// Which stages, in which regions (shared by `enable` and `disable`).
#[derive(Debug, Clone, clap::Args)]
pub struct SelectArgs {
    /// One API by id (with --stage for one stage, else all its stages).
    #[arg(long, value_name = "ID", conflicts_with_all = ["all", "config"])]
    pub api: Option<String>,
    /// The stage of --api.
    #[arg(long, value_name = "NAME", requires = "api")]
    pub stage: Option<String>,
    /// Every discovered API.
    #[arg(long, conflicts_with = "config")]
    pub all: bool,
    /// A JSON list of APIs: [{"api_id": "...", "stage": "...", "region": "..."}] (stage, region optional).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// `all` (the partition's regions), or a comma-separated list (default: --region).
    #[arg(long, value_name = "all|LIST")]
    pub regions: Option<String>,
    /// Include REST APIs (default true).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub rest: Option<bool>,
    /// Include HTTP APIs (default true).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub http: Option<bool>,
    /// Include WebSocket APIs (default true).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub websocket: Option<bool>,
    /// The vendor integration's `.env` (cequence_aws_regions, cequence_rest_api_enabled,
    /// cequence_http_api_enabled, cequence_auto_discover_apis, is_existing_http_log_group,
    /// cequence_http_log_group_name); flags given here win.
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
}

/// The selection flags resolved against the `.env` file and the configured region.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub regions: Vec<String>,
    pub from_all: bool,
    pub selection: Selection,
    pub vendor: VendorSettings,
}

/// The ops-relevant settings of a vendor `.env` file.
fn vendor_settings(path: &Path) -> anyhow::Result<VendorSettings> {
    let env = VendorEnv::load(path)?;
    let mut vars: Vec<(&str, String)> = Vec::new();
    if let Some(r) = &env.aws_regions {
        vars.push(("cequence_aws_regions", r.join(",")));
    }
    let flags = [
        ("cequence_rest_api_enabled", env.rest_api_enabled),
        ("cequence_http_api_enabled", env.http_api_enabled),
        ("cequence_auto_discover_apis", env.auto_discover_apis),
        ("is_existing_http_log_group", env.is_existing_http_log_group),
    ];
    for (name, value) in flags {
        if let Some(v) = value {
            vars.push((name, v.to_string()));
        }
    }
    if let Some(g) = &env.http_log_group_name {
        vars.push(("cequence_http_log_group_name", g.clone()));
    }
    Ok(VendorSettings::from_vars(
        vars,
        &path.display().to_string(),
    )?)
}

impl SelectArgs {
    pub fn resolve(&self, configured_region: Option<&str>) -> anyhow::Result<Resolved> {
        let vendor = match &self.env_file {
            Some(p) => vendor_settings(p)?,
            None => VendorSettings::default(),
        };
        let spec = self.regions.clone().or_else(|| vendor.regions.clone());
        let from_all = spec
            .as_deref()
            .is_some_and(|s| s.trim().eq_ignore_ascii_case("all"));
        let regions = regions::resolve(spec.as_deref(), configured_region)?;

        let selector = if let Some(api) = &self.api {
            Selector::Apis(vec![ApiSelector::one(api, self.stage.as_deref())])
        } else if self.all {
            Selector::All
        } else if let Some(path) = &self.config {
            Selector::Apis(read_config(path)?)
        } else {
            match vendor.auto_discover {
                Some(true) => Selector::All,
                Some(false) => {
                    // The vendor's scripts read api-config.json beside their .env.
                    let dir = self
                        .env_file
                        .as_deref()
                        .and_then(Path::parent)
                        .unwrap_or_else(|| Path::new("."));
                    let path = dir.join("api-config.json");
                    if !path.exists() {
                        bail!(
                            "cequence_auto_discover_apis=false needs an API list: pass --config FILE \
                             (no {} found)",
                            path.display()
                        );
                    }
                    Selector::Apis(read_config(&path)?)
                }
                None => bail!("choose the APIs: --api ID [--stage NAME], --all, or --config FILE"),
            }
        };
        let kinds = Kinds {
            rest: self.rest.or(vendor.rest_enabled).unwrap_or(true),
            http: self.http.or(vendor.http_enabled).unwrap_or(true),
            websocket: self.websocket.unwrap_or(true),
        };
        if !(kinds.rest || kinds.http || kinds.websocket) {
            bail!("REST, HTTP and WebSocket APIs are all switched off: nothing to do");
        }
        Ok(Resolved {
            regions,
            from_all,
            selection: Selection { selector, kinds },
            vendor,
        })
    }
}

fn read_config(path: &Path) -> anyhow::Result<Vec<ApiSelector>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    Ok(parse_api_config(&text, &path.display().to_string())?)
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    /// The decode function (default: the stack's export `{stack}-DecodeFunctionArn`, per region).
    #[arg(long, value_name = "ARN")]
    pub function_arn: Option<String>,
    /// The pipeline stack whose export names the decode function.
    #[arg(long, default_value = DEFAULT_STACK_NAME)]
    pub stack_name: String,
    /// Log to this (existing or new) group where a stage has no access logging yet.
    #[arg(long, value_name = "NAME")]
    pub log_group: Option<String>,
    /// Retention of the log groups created here.
    #[arg(long, default_value_t = DEFAULT_RETENTION_DAYS, value_parser = parse_retention)]
    pub retention_days: i32,
    /// Replace an existing access-log format with the recommended one.
    #[arg(long)]
    pub set_format: bool,
    /// REST stages: stream the execution logs instead of the access log (method settings */*:
    /// loggingLevel INFO, data tracing on; our access-log filter of the stage is removed). Data
    /// tracing logs bodies: CloudWatch Logs cost and personal data (see the README).
    #[arg(long, conflicts_with_all = ["log_group", "set_format"])]
    pub execution_logs: bool,
    /// With --execution-logs: API Gateway's 1 MB execution-log delivery into a log group of ours
    /// (bodies not cut at 1 KB), which is then streamed instead of API-Gateway-Execution-Logs_….
    #[arg(long, requires = "execution_logs")]
    pub large_bodies: bool,
    /// With --execution-logs: keep the stage's access-log filter too (joined mode): both sources
    /// are stitched into one transaction when the decode function's JOIN_STAGES (stack parameter
    /// JoinStages) names the stage (docs/stitching.md).
    #[arg(long, requires = "execution_logs")]
    pub keep_access_logs: bool,
    /// Where API Gateway's account has no CloudWatch Logs role (REST logging needs one), create
    /// an IAM role with AmazonAPIGatewayPushToCloudWatchLogs and set it.
    #[arg(long)]
    pub create_account_role: bool,
    #[command(flatten)]
    pub plan: PlanArgs,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let base = args.aws.load().await;
    let resolved = args.select.resolve(base.region().map(|r| r.as_ref()))?;
    let opts = EnableOptions {
        function_arn: args.function_arn.clone(),
        stack_name: args.stack_name.clone(),
        log_group: args.log_group.clone(),
        http_log_group: resolved.vendor.http_log_group.clone(),
        retention_days: args.retention_days,
        set_format: args.set_format,
        execution_logs: args.execution_logs,
        large_bodies: args.large_bodies,
        keep_access_logs: args.keep_access_logs,
        create_account_role: args.create_account_role,
        account: None,
    };
    let report = crate::control::ops::enable::enable(
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

/// Whether a plan is applied, and how it is printed: the flags of `enable` and `disable`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Make the changes (without it, only the plan is printed).
    #[arg(long)]
    pub apply: bool,
    /// Print the plan or the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Print a plan/outcome report (table or JSON); failures make a non-zero exit.
pub fn print_report(report: &Report, plan: &PlanArgs) -> anyhow::Result<ExitCode> {
    let (json, applied) = (plan.json, plan.apply);
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        for st in &report.stages {
            println!("{:<9} {}", st.status.as_str(), st.stage);
            let mark = if applied { "done" } else { "plan" };
            for c in &st.changes {
                println!("    {mark}: {c}");
            }
            for n in &st.notes {
                println!("    note: {n}");
            }
            if let Some(e) = &st.error {
                println!("    error: {e}");
            }
        }
        for r in &report.skipped_regions {
            println!("skipped   {r}: not enabled for this account");
        }
        let mut counts = Vec::new();
        for s in [
            Status::Changed,
            Status::Planned,
            Status::Unchanged,
            Status::Failed,
            Status::Blocked,
        ] {
            let n = report.count(s);
            if n > 0 {
                counts.push(format!("{n} {}", s.as_str()));
            }
        }
        println!(
            "\n{} stage(s){}{}",
            report.stages.len(),
            if counts.is_empty() {
                String::new()
            } else {
                format!(": {}", counts.join(", "))
            },
            if !applied && report.count(Status::Planned) > 0 {
                " — nothing changed; run again with --apply"
            } else {
                ""
            }
        );
        for e in &report.errors {
            eprintln!("error: {e}");
        }
    }
    Ok(if report.failures() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        select: SelectArgs,
    }

    fn resolve(args: &[&str]) -> anyhow::Result<Resolved> {
        let cmd = Cmd::try_parse_from(std::iter::once("enable").chain(args.iter().copied()))?;
        cmd.select.resolve(Some("eu-west-1"))
    }

    #[test]
    fn flags_win_over_the_env_file_and_its_api_config_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let env = dir.path().join(".env");
        std::fs::write(
            &env,
            "cequence_aws_regions=us-east-1,us-west-2\ncequence_rest_api_enabled=false\n\
             cequence_auto_discover_apis=false\nis_existing_http_log_group=true\n\
             cequence_http_log_group_name=shared-http\n",
        )
        .unwrap();
        let env = env.to_str().unwrap();

        // auto-discovery off and no api-config.json beside the .env: a clear error.
        let err = resolve(&["--env-file", env]).unwrap_err().to_string();
        assert!(err.contains("api-config.json"), "{err}");

        std::fs::write(
            dir.path().join("api-config.json"),
            r#"[{"apiId":"abc","stageName":"prod"}]"#,
        )
        .unwrap();
        let r = resolve(&["--env-file", env]).unwrap();
        assert_eq!(r.regions, vec!["us-east-1", "us-west-2"]);
        assert!(!r.selection.kinds.rest && r.selection.kinds.http);
        assert_eq!(r.vendor.http_log_group.as_deref(), Some("shared-http"));
        assert_eq!(
            r.selection.selector,
            Selector::Apis(vec![ApiSelector::one("abc", Some("prod"))])
        );

        // Flags win.
        let r = resolve(&["--env-file", env, "--all", "--rest", "--regions", "all"]).unwrap();
        assert_eq!(r.selection.selector, Selector::All);
        assert!(r.selection.kinds.rest && r.from_all && r.regions.len() > 30);

        // Without any selector or .env: say what to choose; default region from the config.
        let err = resolve(&[]).unwrap_err().to_string();
        assert!(err.contains("--all"), "{err}");
        assert_eq!(resolve(&["--api", "x"]).unwrap().regions, vec!["eu-west-1"]);
        assert!(
            resolve(&["--stage", "prod"]).is_err(),
            "--stage needs --api"
        );
    }
}
