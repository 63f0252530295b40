//! Logging set-up: JSON lines in Lambda, human-readable on a terminal.

use tracing_subscriber::EnvFilter;

/// CLI logging: to stderr, filtered by `level` (a level or a tracing directive).
pub fn init_cli(level: &str) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Lambda logging: one JSON object per line on stdout (CloudWatch keeps each as one event).
/// `LOG_LEVEL` wins over `AWS_LAMBDA_LOG_LEVEL`; else `default` (the registry's, see
/// [`crate::config::init_lambda_logging`]).
pub fn init_lambda(default: &str) {
    let level = std::env::var("LOG_LEVEL")
        .or_else(|_| std::env::var("AWS_LAMBDA_LOG_LEVEL"))
        .unwrap_or_else(|_| default.to_string())
        .to_ascii_lowercase();
    let filter = EnvFilter::try_new(&level).unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .try_init();
}
