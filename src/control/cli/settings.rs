//! `apigw-stream settings` (hidden): the settings registry as Markdown or JSON, and `--write` to
//! refresh the generated copies in a checkout (README.md, docs/architecture.md, docs/settings.json).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::config::settings;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print `docs/settings.json` instead of the Markdown table.
    #[arg(long)]
    pub json: bool,
    /// Rewrite the generated copies under this repository root.
    #[arg(long, value_name = "REPO")]
    pub write: Option<PathBuf>,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Some(root) = args.write else {
        if args.json {
            print!("{}", settings::json());
        } else {
            print!("{}", settings::markdown_table());
        }
        return Ok(ExitCode::SUCCESS);
    };
    for doc in settings::TABLE_DOCS {
        let path = root.join(doc);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let Some(new) = settings::with_table(&text) else {
            anyhow::bail!(
                "{}: no settings table marks ({} … {})",
                path.display(),
                settings::TABLE_BEGIN,
                settings::TABLE_END
            );
        };
        std::fs::write(&path, new).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let path = root.join(crate::control::docs::METRICS_DOC);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let Some(new) = crate::control::docs::with_metrics_table(&text) else {
        anyhow::bail!(
            "{}: no metrics table marks ({} … {})",
            path.display(),
            crate::control::docs::METRICS_BEGIN,
            crate::control::docs::METRICS_END
        );
    };
    std::fs::write(&path, new).with_context(|| format!("cannot write {}", path.display()))?;
    let path = root.join(settings::JSON_DOC);
    std::fs::write(&path, settings::json())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(ExitCode::SUCCESS)
}
