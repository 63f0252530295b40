//! The `apigw-stream` command line: one module per subcommand, each with its `Args` and `run`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod apis;
pub mod bridge;
pub mod collector;
pub mod dashboard;
pub mod decode;
pub mod disable;
pub mod enable;
pub mod env_file;
pub mod generate;
pub mod local;
pub mod progress;
pub mod replay;
pub mod replay_archive;
pub mod settings;
pub mod status;
pub mod values;

#[derive(Debug, Parser)]
#[command(
    name = "apigw-stream",
    version,
    about = "Stream Amazon API Gateway traffic to an API-security collector"
)]
pub struct Cli {
    /// Log level filter (error, warn, info, debug, trace or a tracing directive).
    #[arg(long, global = true, env = "LOG_LEVEL", default_value = "warn")]
    pub log_level: String,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decode CloudWatch Logs subscription payloads into canonical records (NDJSON on stdout).
    Decode(decode::Args),
    /// Run the whole pipeline in one process: decode → queue → shipper → Bridge.
    Local(Box<local::Args>),
    /// Run a local Bridge receiver (OAuth2 token endpoint + /api-transactions) with fault injection.
    Bridge(bridge::Args),
    /// Write synthetic subscription payloads (base64 gzip Lambda events).
    Generate(generate::Args),
    /// List REST, HTTP and WebSocket APIs with their stages and logging state.
    Apis(apis::Args),
    /// Turn on access logging and add the subscription filter for APIs.
    Enable(enable::Args),
    /// Remove our subscription filters (and optionally the logging we set).
    Disable(disable::Args),
    /// Move dead-lettered messages back to the queue.
    Replay(Box<replay::Args>),
    /// A deployed pipeline's health: queue depths, metrics over a window, what to run.
    Status(status::Args),
    /// The settings registry as a table or JSON; refresh the generated documents.
    #[command(hide = true)]
    Settings(settings::Args),
    /// The CloudWatch dashboard body of the health view; refresh the stacks' copies.
    #[command(hide = true)]
    Dashboard(dashboard::Args),
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::runtime::telemetry::init_cli(&cli.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("apigw-stream: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Decode(args) => decode::run(args).await,
            Command::Local(args) => local::run(*args).await,
            Command::Bridge(args) => bridge::run(args).await,
            Command::Generate(args) => generate::run(args).await,
            Command::Apis(args) => apis::run(args).await,
            Command::Enable(args) => enable::run(args).await,
            Command::Disable(args) => disable::run(args).await,
            Command::Replay(args) => replay::run(*args).await,
            Command::Status(args) => status::run(args).await,
            Command::Settings(args) => settings::run(args).await,
            Command::Dashboard(args) => dashboard::run(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("apigw-stream: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::settings::{Kind, SETTINGS};
    use clap::CommandFactory;

    /// Every flag read from a registered environment variable takes its help, default and range
    /// from the registry.
    #[test]
    fn flags_follow_the_settings_registry() {
        let cli = Cli::command();
        let mut checked = 0;
        let mut stack = vec![&cli];
        while let Some(cmd) = stack.pop() {
            stack.extend(cmd.get_subcommands());
            // The local receiver's CLIENT_ID is the id it accepts, not the shipper's setting.
            if cmd.get_name() == "bridge" {
                continue;
            }
            for arg in cmd.get_arguments() {
                let Some(env) = arg.get_env().and_then(|e| e.to_str()) else {
                    continue;
                };
                // Flags named as the variable (`WINDOW_BYTES` → `--window-bytes`); the CLI's log
                // level defaults to warn on purpose (a terminal wants warnings only).
                let Some(setting) = SETTINGS.iter().find(|s| {
                    s.name == env && s.name.to_ascii_lowercase() == arg.get_id().as_str()
                }) else {
                    continue;
                };
                if env == "LOG_LEVEL" {
                    continue;
                }
                let flag = format!("{} --{}", cmd.get_name(), arg.get_id());
                let defaults: Vec<String> = arg
                    .get_default_values()
                    .iter()
                    .map(|v| v.to_string_lossy().into_owned())
                    .collect();
                match setting.kind {
                    Kind::Text { .. } | Kind::List { .. } => {
                        assert!(
                            defaults.is_empty(),
                            "{flag}: the registry holds the default"
                        )
                    }
                    Kind::Bool { default } if arg.get_action().takes_values() => {
                        assert_eq!(defaults, [default.to_string()], "{flag}")
                    }
                    Kind::Bool { default } => assert!(!default, "{flag}: a switch defaults to off"),
                    _ => assert_eq!(defaults, [setting.default_text()], "{flag}"),
                }
                if let Kind::Int { min, max, .. } = setting.kind {
                    let long = format!("--{}", arg.get_long().unwrap_or_default());
                    let parse = |n: u64| {
                        let alone = clap::Command::new("t").arg(arg.clone());
                        alone
                            .try_get_matches_from(["t", long.as_str(), &n.to_string()])
                            .is_ok()
                    };
                    assert!(parse(min) && (min == 0 || !parse(min - 1)), "{flag}: range");
                    if let Some(max) = max {
                        assert!(parse(max) && !parse(max + 1), "{flag}: range");
                    }
                }
                // A flag may add to the registry's help, never contradict it: it starts with it.
                let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                // The queues and the Bridge are optional in the CLI (embedded ones are the
                // default) and their help says so.
                if !["BRIDGE_URL", "QUEUE_URL", "STITCH_QUEUE_URL"].contains(&env) {
                    assert!(help.starts_with(setting.doc), "{flag}: help {help:?}");
                }
                checked += 1;
            }
        }
        assert!(checked >= 20, "only {checked} flags checked");
    }

    /// clap checks flag names only in debug builds and only when a command is parsed: check every
    /// subcommand here (two flags named `region` once broke `local` in debug builds).
    #[test]
    fn every_command_definition_is_valid() {
        Cli::command().debug_assert();
    }
}
