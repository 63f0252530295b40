//! Which stages a command acts on: `--api ID [--stage S]`, `--all`, or `--config api-config.json`,
//! and the vendor integration's `.env` settings that map onto those flags.

use serde::Deserialize;

use super::discover::{Inventory, StageInfo};
use super::plan::Report;
use super::{OpsError, StageRef};
use crate::transaction::ApiKind;

/// One entry of `api-config.json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSelector {
    #[serde(alias = "apiId", alias = "id", alias = "api")]
    pub api_id: String,
    /// One stage; absent (and `stages` absent) = every stage of the API.
    #[serde(default, alias = "stageName", alias = "stage_name")]
    pub stage: Option<String>,
    #[serde(default)]
    pub stages: Vec<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default, alias = "type")]
    pub kind: Option<String>,
}

impl ApiSelector {
    pub fn one(api_id: &str, stage: Option<&str>) -> ApiSelector {
        ApiSelector {
            api_id: api_id.to_string(),
            stage: stage.map(str::to_string),
            stages: Vec::new(),
            region: None,
            kind: None,
        }
    }

    pub fn matches(&self, st: &StageRef) -> bool {
        if st.api_id != self.api_id {
            return false;
        }
        if let Some(r) = &self.region {
            if r != &st.region {
                return false;
            }
        }
        if let Some(k) = self.kind.as_deref().and_then(ApiKind::parse) {
            if k != st.kind {
                return false;
            }
        }
        match (&self.stage, self.stages.is_empty()) {
            (None, true) => true,
            (stage, _) => {
                stage.as_deref() == Some(st.stage.as_str()) || self.stages.contains(&st.stage)
            }
        }
    }

    fn describe(&self) -> String {
        let mut s = format!("API {}", self.api_id);
        let stages: Vec<&str> = self
            .stage
            .iter()
            .chain(self.stages.iter())
            .map(String::as_str)
            .collect();
        if !stages.is_empty() {
            s.push_str(&format!(" stage {}", stages.join(",")));
        }
        if let Some(r) = &self.region {
            s.push_str(&format!(" in {r}"));
        }
        s
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    All,
    Apis(Vec<ApiSelector>),
}

impl Selector {
    pub fn matches(&self, st: &StageRef) -> bool {
        match self {
            Selector::All => true,
            Selector::Apis(list) => list.iter().any(|s| s.matches(st)),
        }
    }

    /// A report for a run over `inventory`: its skipped regions, and an error for each API named
    /// that no region has.
    pub fn start_report(&self, inventory: &Inventory) -> Report {
        let everything: Vec<StageInfo> = inventory
            .regions
            .iter()
            .flat_map(|(_, inv)| inv.stages.iter().cloned())
            .collect();
        Report {
            skipped_regions: inventory.skipped_regions.clone(),
            errors: self.apply(&everything).1,
            ..Default::default()
        }
    }

    /// The selected stages, and an error line for each selector that matched nothing.
    pub fn apply<'a>(&self, stages: &'a [StageInfo]) -> (Vec<&'a StageInfo>, Vec<String>) {
        let chosen: Vec<&StageInfo> = stages.iter().filter(|s| self.matches(&s.stage)).collect();
        let mut unmatched = Vec::new();
        if let Selector::Apis(list) = self {
            for sel in list {
                if !stages.iter().any(|s| sel.matches(&s.stage)) {
                    unmatched.push(format!(
                        "{}: not found among the discovered APIs",
                        sel.describe()
                    ));
                }
            }
        }
        (chosen, unmatched)
    }
}

/// What a command acts on: the stages the selector picks, of the kinds switched on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub selector: Selector,
    pub kinds: super::discover::Kinds,
}

/// Parse `api-config.json`: a list of selectors, or `{"apis": [...]}`. `source` names the file.
pub fn parse_api_config(text: &str, source: &str) -> Result<Vec<ApiSelector>, OpsError> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum File {
        List(Vec<ApiSelector>),
        Wrapped { apis: Vec<ApiSelector> },
    }
    let file: File = serde_json::from_str(text).map_err(|e| {
        OpsError::Input(format!(
            "{source}: not an API list ({e}); expected [{{\"api_id\": \"...\", \"stage\": \"...\"}}, ...] or {{\"apis\": [...]}}"
        ))
    })?;
    let list = match file {
        File::List(l) | File::Wrapped { apis: l } => l,
    };
    for (i, sel) in list.iter().enumerate() {
        if sel.api_id.trim().is_empty() {
            return Err(OpsError::Input(format!(
                "{source}: entry {i} has an empty api_id"
            )));
        }
        if let Some(k) = &sel.kind {
            if ApiKind::parse(k).is_none() {
                return Err(OpsError::Input(format!(
                    "{source}: entry {i} ({}): kind {k:?} is not rest, http or websocket",
                    sel.api_id
                )));
            }
        }
    }
    Ok(list)
}

/// The vendor integration's `.env` settings that `enable`/`disable` understand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VendorSettings {
    /// `cequence_aws_regions`: `all`, one region, or a comma list.
    pub regions: Option<String>,
    /// `cequence_rest_api_enabled`.
    pub rest_enabled: Option<bool>,
    /// `cequence_http_api_enabled`.
    pub http_enabled: Option<bool>,
    /// `cequence_auto_discover_apis`: false = use `api-config.json`.
    pub auto_discover: Option<bool>,
    /// `is_existing_http_log_group` + `cequence_http_log_group_name`: HTTP stages log there.
    pub http_log_group: Option<String>,
}

/// Default of `cequence_http_log_group_name` in the vendor's `.env.example`.
pub const VENDOR_DEFAULT_HTTP_LOG_GROUP: &str = "cequence-http-api-access-logs";

impl VendorSettings {
    /// Build from `(name, value)` pairs of a parsed `.env`; other names are ignored (they belong to
    /// the shipper or to the vendor's own scripts). `source` names the file in errors.
    pub fn from_vars<I, K, V>(vars: I, source: &str) -> Result<VendorSettings, OpsError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut out = VendorSettings::default();
        let mut existing_http_group = None;
        let mut http_group_name = None;
        for (k, v) in vars {
            let (k, v) = (k.as_ref(), v.as_ref().trim());
            let flag = |v: &str| {
                parse_bool(v).ok_or_else(|| {
                    OpsError::Input(format!(
                        "{source}: {k}={v:?} is not a boolean (true or false)"
                    ))
                })
            };
            match k {
                "cequence_aws_regions" if !v.is_empty() => out.regions = Some(v.to_string()),
                "cequence_rest_api_enabled" => out.rest_enabled = Some(flag(v)?),
                "cequence_http_api_enabled" => out.http_enabled = Some(flag(v)?),
                "cequence_auto_discover_apis" => out.auto_discover = Some(flag(v)?),
                "is_existing_http_log_group" => existing_http_group = Some(flag(v)?),
                "cequence_http_log_group_name" if !v.is_empty() => {
                    http_group_name = Some(v.to_string())
                }
                _ => {}
            }
        }
        // The vendor's scripts use the group name only when it already exists; otherwise they
        // create their own group, as `enable` does by default.
        if existing_http_group == Some(true) {
            out.http_log_group =
                Some(http_group_name.unwrap_or_else(|| VENDOR_DEFAULT_HTTP_LOG_GROUP.to_string()));
        }
        Ok(out)
    }
}

/// The settings' boolean spellings; the vendor's scripts treat an empty value as false.
fn parse_bool(v: &str) -> Option<bool> {
    if v.is_empty() {
        Some(false)
    } else {
        crate::config::parse_bool(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sref(kind: ApiKind, api: &str, stage: &str) -> StageRef {
        StageRef {
            region: "us-east-1".into(),
            kind,
            api_id: api.into(),
            stage: stage.into(),
        }
    }

    #[test]
    fn selectors_match_api_stage_region_kind() {
        let s = ApiSelector::one("abc", Some("prod"));
        assert!(s.matches(&sref(ApiKind::Rest, "abc", "prod")));
        assert!(!s.matches(&sref(ApiKind::Rest, "abc", "dev")));
        assert!(ApiSelector::one("abc", None).matches(&sref(ApiKind::Http, "abc", "dev")));
        let list = parse_api_config(
            r#"{"apis":[{"apiId":"abc","stages":["a","b"],"region":"us-east-1","kind":"http"}]}"#,
            "api-config.json",
        )
        .unwrap();
        assert!(list[0].matches(&sref(ApiKind::Http, "abc", "b")));
        assert!(!list[0].matches(&sref(ApiKind::Rest, "abc", "b")));
        assert!(!list[0].matches(&sref(ApiKind::Http, "abc", "c")));
    }

    #[test]
    fn bad_config_names_the_file_and_the_cause() {
        let err = parse_api_config("{\"apis\": 3}", "cfg.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cfg.json"), "{err}");
        let err = parse_api_config(r#"[{"api_id":"x","kind":"grpc"}]"#, "cfg.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("grpc"), "{err}");
        assert!(parse_api_config(r#"[{"api_id":"x","colour":"red"}]"#, "c").is_err());
    }

    #[test]
    fn vendor_settings_map_the_env_names() {
        let vars = [
            ("cequence_aws_regions", "us-east-1,eu-west-1"),
            ("cequence_rest_api_enabled", "true"),
            ("cequence_http_api_enabled", "False"),
            ("cequence_auto_discover_apis", "false"),
            ("is_existing_http_log_group", "true"),
            ("cequence_http_log_group_name", "my-http-logs"),
            ("cequence_client_secret", "not-for-us"),
        ];
        let s = VendorSettings::from_vars(vars, ".env").unwrap();
        assert_eq!(s.regions.as_deref(), Some("us-east-1,eu-west-1"));
        assert_eq!(
            (s.rest_enabled, s.http_enabled, s.auto_discover),
            (Some(true), Some(false), Some(false))
        );
        assert_eq!(s.http_log_group.as_deref(), Some("my-http-logs"));

        let s = VendorSettings::from_vars([("cequence_http_log_group_name", "x")], ".env").unwrap();
        assert_eq!(
            s.http_log_group, None,
            "a name without is_existing_http_log_group is not used"
        );

        let err = VendorSettings::from_vars([("cequence_rest_api_enabled", "maybe")], "/tmp/.env")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/tmp/.env") && err.contains("cequence_rest_api_enabled"),
            "{err}"
        );
    }
}
