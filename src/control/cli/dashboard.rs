//! `apigw-stream dashboard` (hidden): the CloudWatch dashboard body of the pipeline's health view
//! (the figures of `apigw-stream status`), with CloudFormation placeholders, Terraform template
//! variables, or a deployed stack's real names; `--write` refreshes the stacks' generated copies.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::control::aws::AwsArgs;
use crate::control::ops::view::{self, CloudFormationNames, TerraformNames};
use crate::control::ops::DEFAULT_STACK_NAME;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Form {
    /// `${Queue.QueueName}`… for `!Sub`.
    Cloudformation,
    /// `${queue}`… for `templatefile`.
    Terraform,
    /// The names of a deployed stack (`--stack-name`), for `aws cloudwatch put-dashboard`.
    Stack,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub aws: AwsArgs,
    #[arg(long, value_enum, default_value_t = Form::Stack)]
    pub form: Form,
    #[arg(long, default_value = DEFAULT_STACK_NAME)]
    pub stack_name: String,
    /// Rewrite the generated copies under this repository root.
    #[arg(long, value_name = "REPO")]
    pub write: Option<PathBuf>,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(root) = args.write {
        let path = root.join(view::TERRAFORM_TEMPLATE);
        std::fs::write(&path, view::terraform_template())
            .with_context(|| format!("cannot write {}", path.display()))?;
        let path = root.join(view::CLOUDFORMATION_TEMPLATE);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let new = view::with_cloudformation_line(&text).with_context(|| {
            format!(
                "{}: no line starting {:?}",
                path.display(),
                view::CLOUDFORMATION_BODY_PREFIX
            )
        })?;
        std::fs::write(&path, new).with_context(|| format!("cannot write {}", path.display()))?;
        return Ok(ExitCode::SUCCESS);
    }
    let body = match args.form {
        Form::Cloudformation => view::dashboard_body(&CloudFormationNames, view::DASHBOARD_PERIOD),
        Form::Terraform => view::dashboard_body(&TerraformNames, view::DASHBOARD_PERIOD),
        Form::Stack => {
            let base = args.aws.load().await;
            let region = base
                .region()
                .map(|r| r.to_string())
                .context("no region: pass --region or set AWS_REGION")?;
            let cfn = aws_sdk_cloudformation::Client::new(&base);
            let res =
                crate::control::ops::status::resources(&cfn, &args.stack_name, &region).await?;
            view::dashboard_body(&res, view::DASHBOARD_PERIOD)
        }
    };
    println!("{body}");
    Ok(ExitCode::SUCCESS)
}
