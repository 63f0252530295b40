//! `apigw-stream bridge`: a local Bridge receiver (token endpoint + `/api-transactions`) with fault
//! injection, to point the pipeline at before a tenant is ready.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;

use crate::ship::bridge::receiver::{Faults, Receiver, ReceiverConfig};
use crate::ship::bridge::{Secret, TOKEN_PATH, TRANSACTIONS_PATH};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9443")]
    pub listen: SocketAddr,
    /// Directory for accepted windows (window-000001.json, ...).
    #[arg(long)]
    pub out: PathBuf,
    /// Client id the token endpoint accepts (any when unset).
    #[arg(long, env = "CLIENT_ID")]
    pub client_id: Option<String>,
    /// Client secret the token endpoint accepts (any when unset).
    #[arg(long, env = "CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// Accept /api-transactions without a bearer token.
    #[arg(long)]
    pub no_auth: bool,
    /// Share of requests answered with --fail-status (0.0 to 1.0).
    #[arg(long, default_value_t = 0.0)]
    pub fail_rate: f64,
    /// Status of failures injected by --fail-rate.
    #[arg(long, default_value_t = 503)]
    pub fail_status: u16,
    /// Delay before answering each /api-transactions request, in ms.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Lifetime of issued tokens, in seconds.
    #[arg(long, default_value_t = 1800)]
    pub token_ttl: u64,
    /// Statuses for the first requests, in order (e.g. 500,429,413,200).
    #[arg(long, value_delimiter = ',')]
    pub status: Vec<u16>,
    /// Retry-After seconds sent with injected 429/503 answers.
    #[arg(long)]
    pub retry_after: Option<u64>,
    /// Answer 413 to windows larger than this (decompressed).
    #[arg(long)]
    pub max_body_bytes: Option<usize>,
    /// Answer 400 to every window holding a record with this id (repeat or comma-separate):
    /// a collector refusing one record's content.
    #[arg(long, value_delimiter = ',', value_name = "ID")]
    pub reject_id: Vec<String>,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !(0.0..=1.0).contains(&args.fail_rate) {
        anyhow::bail!("--fail-rate {} is outside 0.0..=1.0", args.fail_rate);
    }
    let config = ReceiverConfig {
        client_id: args.client_id,
        client_secret: args.client_secret.map(Secret::new),
        out_dir: Some(args.out.clone()),
        no_auth: args.no_auth,
        faults: Faults {
            fail_rate: args.fail_rate,
            fail_status: args.fail_status,
            latency: Duration::from_millis(args.latency_ms),
            token_ttl_secs: args.token_ttl,
            statuses: args.status.into_iter().collect(),
            retry_after_secs: args.retry_after,
            max_body_bytes: args.max_body_bytes,
            reject_ids: args.reject_id.into_iter().collect(),
            bad_tokens: 0,
        },
    };
    let receiver = Receiver::start(args.listen, config)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    eprintln!(
        "bridge receiver on {base}\n  token:        POST {base}{TOKEN_PATH}\n  transactions: POST {base}{TRANSACTIONS_PATH}\n  writing accepted windows to {}\n(ctrl-c to stop)",
        args.out.display(),
        base = receiver.base_url(),
    );
    tokio::signal::ctrl_c()
        .await
        .context("waiting for ctrl-c")?;
    let s = receiver.stats();
    eprintln!(
        "accepted {} records in {} windows ({} bytes); {} tokens issued; {} unauthorized, {} invalid, {} rejected for --reject-id, {} too large, {} faults injected",
        s.accepted_records, s.accepted_windows, s.accepted_bytes, s.tokens_issued, s.unauthorized, s.invalid, s.rejected_windows, s.too_large, s.faults_injected
    );
    Ok(ExitCode::SUCCESS)
}
