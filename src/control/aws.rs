//! Shared AWS SDK configuration: the standard credential chain, with `--region` and
//! `--endpoint-url` overrides as in the AWS CLI (moto's server, LocalStack).

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Where to reach AWS: both `None` means the environment decides (AWS_REGION, AWS_ENDPOINT_URL...).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AwsArgs {
    /// AWS region (default: from the environment or profile).
    #[arg(long, env = "AWS_REGION")]
    pub region: Option<String>,
    /// Override the AWS endpoint (e.g. http://127.0.0.1:5000 for moto's server or LocalStack).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
}

impl AwsArgs {
    pub fn new(region: Option<String>, endpoint_url: Option<String>) -> Self {
        AwsArgs {
            region,
            endpoint_url,
        }
    }

    /// Load the SDK configuration with these overrides.
    pub async fn load(&self) -> SdkConfig {
        load(self.region.as_deref(), self.endpoint_url.as_deref()).await
    }
}

/// Load the SDK configuration from the standard chain, with optional overrides.
pub async fn load(region: Option<&str>, endpoint_url: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_string()));
    }
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// Configuration for tests and local emulators: static dummy credentials, fixed region, endpoint.
pub fn emulator_config(endpoint_url: &str, region: &str) -> SdkConfig {
    let creds =
        aws_credential_types::Credentials::new("testing", "testing", None, None, "emulator");
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint_url)
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(creds))
        .build()
}
