//! The `apigw-stream` command line: one module per subcommand, each with its `Args` and `run`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod apis;
pub mod bridge;
pub mod decode;
pub mod disable;
pub mod enable;
pub mod env_file;
pub mod generate;
pub mod local;
pub mod replay;
pub mod replay_archive;

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
    Replay(replay::Args),
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::telemetry::init_cli(&cli.log_level);
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
            Command::Replay(args) => replay::run(args).await,
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
    /// clap checks flag names only in debug builds and only when a command is parsed: check every
    /// subcommand here (two flags named `region` once broke `local` in debug builds).
    #[test]
    fn every_command_definition_is_valid() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
