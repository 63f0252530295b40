//! `apigw-stream decode [INPUT ...]`: payloads → canonical records as NDJSON on stdout.

use std::io::{BufWriter, Read, Write};
use std::process::ExitCode;

use anyhow::Context as _;

use crate::decode::{decode_bytes, DecodeOptions, DecodeStats};
use crate::execution::{DEFAULT_MAX_BODY_BYTES, MAX_MAX_BODY_BYTES, MIN_MAX_BODY_BYTES};
use crate::filter::{parse_extensions, parse_list, FilterConfig};
use crate::frame::{pack, DEFAULT_MESSAGE_BYTES};
use crate::logs::DEFAULT_MAX_PAYLOAD_BYTES;

/// The decode settings, as flags named like the decode Lambda's environment variables.
/// `local` flattens these too.
#[derive(Debug, Clone, clap::Args)]
pub struct DecodeFlags {
    /// Cap on decompressed bytes per payload (gzip-bomb guard).
    #[arg(long, env = "MAX_PAYLOAD_BYTES", default_value_t = DEFAULT_MAX_PAYLOAD_BYTES)]
    pub max_payload_bytes: usize,
    /// Keep records of REST APIs.
    #[arg(long, env = "REST_API_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    pub rest_api_enabled: bool,
    /// Keep records of HTTP APIs.
    #[arg(long, env = "HTTP_API_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    pub http_api_enabled: bool,
    /// Keep records of WebSocket APIs.
    #[arg(long, env = "WEBSOCKET_API_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    pub websocket_api_enabled: bool,
    /// Drop requests for these file extensions (comma-separated; default: a list of web assets).
    #[arg(long, env = "STATIC_FILE_EXTENSIONS")]
    pub static_file_extensions: Option<String>,
    /// Keep only responses of these content types, where the record knows one (comma-separated).
    #[arg(long, env = "RESPONSE_CONTENT_TYPES")]
    pub response_content_types: Option<String>,
    /// Header names whose values are replaced by [REDACTED] (comma-separated).
    #[arg(long, env = "REDACT_HEADERS")]
    pub redact_headers: Option<String>,
    /// Region recorded when a line has no execute-api domain.
    #[arg(long = "record-region", env = "AWS_REGION")]
    pub region: Option<String>,
    /// Execution-log bodies longer than this are cut and flagged truncated (1024..=1048576).
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES as u64,
          value_parser = clap::value_parser!(u64).range(MIN_MAX_BODY_BYTES as u64..=MAX_MAX_BODY_BYTES as u64))]
    pub max_body_bytes: u64,
}

impl DecodeFlags {
    pub fn options(&self) -> DecodeOptions {
        let d = FilterConfig::default();
        DecodeOptions {
            max_payload_bytes: self.max_payload_bytes,
            region: self.region.clone(),
            max_body_bytes: self.max_body_bytes as usize,
            filter: FilterConfig {
                rest_api_enabled: self.rest_api_enabled,
                http_api_enabled: self.http_api_enabled,
                websocket_api_enabled: self.websocket_api_enabled,
                static_file_extensions: self
                    .static_file_extensions
                    .as_deref()
                    .map_or(d.static_file_extensions, parse_extensions),
                response_content_types: self
                    .response_content_types
                    .as_deref()
                    .map_or(d.response_content_types, parse_list),
                redact_headers: self
                    .redact_headers
                    .as_deref()
                    .map_or(d.redact_headers, parse_list),
            },
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Payload files (Lambda events, base64, gzip, LogData JSON, one event per line) or `-` for stdin.
    #[arg(default_value = "-")]
    pub inputs: Vec<String>,
    /// Print counts as one JSON object on stderr at the end.
    #[arg(long)]
    pub stats: bool,
    /// Print SQS message bodies (frames) instead of records, one per line.
    #[arg(long)]
    pub frames: bool,
    /// Frame size bound with --frames (body plus attributes).
    #[arg(long, env = "MESSAGE_BYTES", default_value_t = DEFAULT_MESSAGE_BYTES)]
    pub message_bytes: usize,
    #[command(flatten)]
    pub decode: DecodeFlags,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let opts = args.decode.options();
    let mut stats = DecodeStats::default();
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut failed = 0usize;
    for input in &args.inputs {
        let bytes = match read_input(input) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("apigw-stream decode: {input}: {e:#}");
                failed += 1;
                continue;
            }
        };
        let records = match decode_bytes(&bytes, &opts, &mut stats) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("apigw-stream decode: {input}: {e}");
                failed += 1;
                continue;
            }
        };
        if args.frames {
            for f in pack(&records, args.message_bytes)? {
                writeln!(out, "{}", f.body)?;
            }
        } else {
            for r in &records {
                serde_json::to_writer(&mut out, r)?;
                out.write_all(b"\n")?;
            }
        }
    }
    out.flush()?;
    if args.stats {
        eprintln!("{}", serde_json::to_string(&stats)?);
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn read_input(input: &str) -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::new();
    if input == "-" {
        std::io::stdin()
            .lock()
            .read_to_end(&mut buf)
            .context("cannot read stdin")?;
    } else {
        buf = std::fs::read(input).context("cannot read file")?;
    }
    Ok(buf)
}
