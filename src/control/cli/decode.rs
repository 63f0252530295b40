//! `apigw-stream decode [INPUT ...]`: payloads → canonical records as NDJSON on stdout.

use std::io::{BufWriter, Read, Write};
use std::process::ExitCode;

use anyhow::Context as _;

use crate::config::settings as s;
use crate::config::Lookup;
use crate::decode::filter::FilterConfig;
use crate::decode::{decode_bytes, DecodeOptions, DecodeStats};
use crate::transport::frame::pack;

/// The decode settings as flags: names, help, defaults and ranges from the settings registry.
/// `local` flattens these too.
#[derive(Debug, Clone, clap::Args)]
pub struct DecodeFlags {
    #[arg(long, env = s::MAX_PAYLOAD_BYTES.name, help = s::MAX_PAYLOAD_BYTES.doc,
          default_value_t = s::MAX_PAYLOAD_BYTES.int_default() as usize,
          value_parser = s::MAX_PAYLOAD_BYTES.clap_usize())]
    pub max_payload_bytes: usize,
    #[arg(long, env = s::MAX_BODY_BYTES.name, help = s::MAX_BODY_BYTES.doc,
          default_value_t = s::MAX_BODY_BYTES.int_default() as usize,
          value_parser = s::MAX_BODY_BYTES.clap_usize())]
    pub max_body_bytes: usize,
    #[arg(long, env = s::REST_API_ENABLED.name, help = s::REST_API_ENABLED.doc,
          default_value_t = s::REST_API_ENABLED.bool_default(), action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub rest_api_enabled: bool,
    #[arg(long, env = s::HTTP_API_ENABLED.name, help = s::HTTP_API_ENABLED.doc,
          default_value_t = s::HTTP_API_ENABLED.bool_default(), action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub http_api_enabled: bool,
    #[arg(long, env = s::WEBSOCKET_API_ENABLED.name, help = s::WEBSOCKET_API_ENABLED.doc,
          default_value_t = s::WEBSOCKET_API_ENABLED.bool_default(), action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub websocket_api_enabled: bool,
    #[arg(long, env = s::STATIC_FILE_EXTENSIONS.name, help = s::STATIC_FILE_EXTENSIONS.doc)]
    pub static_file_extensions: Option<String>,
    #[arg(long, env = s::RESPONSE_CONTENT_TYPES.name, help = s::RESPONSE_CONTENT_TYPES.doc)]
    pub response_content_types: Option<String>,
    #[arg(long, env = s::REDACT_HEADERS.name, help = s::REDACT_HEADERS.doc)]
    pub redact_headers: Option<String>,
    // Its own id: `local` also flattens AwsArgs, whose `region` would clash (clap panics in debug builds).
    #[arg(id = "record_region", long = "record-region", env = s::AWS_REGION.name, help = s::AWS_REGION.doc)]
    pub region: Option<String>,
}

impl DecodeFlags {
    pub fn options(&self) -> DecodeOptions {
        // The registry's list rule (blank is unset, extensions lose their dot), as in the Lambda.
        let list = |setting: &s::ListSetting, flag: &Option<String>| {
            setting.list(&Lookup(|_: &str| flag.clone()))
        };
        DecodeOptions {
            max_payload_bytes: self.max_payload_bytes,
            max_body_bytes: self.max_body_bytes,
            region: self.region.clone(),
            // Files on disk are the user's own: every log group.
            log_groups: None,
            filter: FilterConfig {
                rest_api_enabled: self.rest_api_enabled,
                http_api_enabled: self.http_api_enabled,
                websocket_api_enabled: self.websocket_api_enabled,
                static_file_extensions: list(
                    &s::STATIC_FILE_EXTENSIONS,
                    &self.static_file_extensions,
                ),
                response_content_types: list(
                    &s::RESPONSE_CONTENT_TYPES,
                    &self.response_content_types,
                ),
                redact_headers: list(&s::REDACT_HEADERS, &self.redact_headers),
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
    #[arg(long, env = s::MESSAGE_BYTES.name, help = s::MESSAGE_BYTES.doc,
          default_value_t = s::MESSAGE_BYTES.int_default() as usize,
          value_parser = s::MESSAGE_BYTES.clap_usize())]
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
    let mut text = Vec::new();
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
            // Serialized into memory, written once: many small writes cost more through a
            // BufWriter than into a Vec.
            text.clear();
            for r in &records {
                r.write_json(&mut text);
                text.push(b'\n');
            }
            out.write_all(&text)?;
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
