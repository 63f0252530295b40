//! `--regions all|LIST`.
//!
//! `all` cannot ask EC2 `DescribeRegions` (no EC2 client here, and it needs `ec2:DescribeRegions`),
//! so it expands to the regions of the partition of the configured region, as listed in the AWS
//! SDK's partition table (aws-sdk-rust endpoint metadata, 2026). Regions the account has not opted
//! into answer with an authorization error; callers report those as skipped, not as failures.

use super::OpsError;

/// Commercial partition (`aws`), from the SDK's partition table.
pub const AWS_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

/// China partition (`aws-cn`).
pub const AWS_CN_REGIONS: &[&str] = &["cn-north-1", "cn-northwest-1"];

/// GovCloud partition (`aws-us-gov`).
pub const AWS_US_GOV_REGIONS: &[&str] = &["us-gov-east-1", "us-gov-west-1"];

/// The regions of the partition `region` belongs to.
pub fn partition_regions(region: &str) -> &'static [&'static str] {
    if region.starts_with("cn-") {
        AWS_CN_REGIONS
    } else if region.starts_with("us-gov-") {
        AWS_US_GOV_REGIONS
    } else {
        AWS_REGIONS
    }
}

/// The partition of a region (`aws`, `aws-cn`, `aws-us-gov`), for ARNs built without one at hand.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// Resolve `--regions`: `None` → the configured region; `all` → its partition; else a comma list.
pub fn resolve(spec: Option<&str>, configured: Option<&str>) -> Result<Vec<String>, OpsError> {
    let spec = spec.map(str::trim).filter(|s| !s.is_empty());
    match spec {
        None => match configured {
            Some(r) => Ok(vec![r.to_string()]),
            None => Err(OpsError::Input(
                "no region: pass --region or --regions, or set AWS_REGION".to_string(),
            )),
        },
        Some(s) if s.eq_ignore_ascii_case("all") => {
            let base = configured.unwrap_or("us-east-1");
            Ok(partition_regions(base)
                .iter()
                .map(|r| r.to_string())
                .collect())
        }
        Some(list) => {
            let mut out: Vec<String> = Vec::new();
            for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let valid = item
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && item.contains('-');
                if !valid {
                    return Err(OpsError::Input(format!(
                        "--regions: {item:?} is not a region name (expected e.g. us-east-1, or `all`)"
                    )));
                }
                if !out.iter().any(|r| r == item) {
                    out.push(item.to_string());
                }
            }
            if out.is_empty() {
                return Err(OpsError::Input("--regions: empty list".to_string()));
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_lists_all_and_default() {
        assert_eq!(resolve(None, Some("eu-west-1")).unwrap(), vec!["eu-west-1"]);
        assert!(resolve(None, None).is_err());
        assert_eq!(
            resolve(Some("us-east-1, eu-west-1,us-east-1"), None).unwrap(),
            vec!["us-east-1", "eu-west-1"]
        );
        let all = resolve(Some("ALL"), Some("us-east-2")).unwrap();
        assert!(all.len() > 30 && all.contains(&"us-east-1".to_string()));
        assert_eq!(resolve(Some("all"), Some("cn-north-1")).unwrap().len(), 2);
        let err = resolve(Some("us-east-1,Mars"), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("Mars"), "{err}");
    }
}
