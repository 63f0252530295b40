//! Stitching's side of the decode stage: which requests become fragments for the stitch queue
//! (joined stages, requests not seen whole) and where they go while a payload is decoded.

use super::fragment::Fragment;

/// Stitching's side of the decode stage: where fragments go, and which stages are joined.
pub struct Split<'a> {
    pub fragments: &'a mut Vec<Fragment>,
    pub join: &'a JoinRule,
}

/// Joined mode: which REST stages join their access-log records with their execution logs
/// (`JOIN_STAGES`: `{api-id}/{stage}` entries, `*` for every stage; empty: none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JoinRule {
    stages: Vec<String>,
}

impl JoinRule {
    pub fn new(stages: impl IntoIterator<Item = String>) -> Self {
        JoinRule {
            stages: stages
                .into_iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// Is this API stage joined?
    pub fn joins(&self, api_id: Option<&str>, stage: Option<&str>) -> bool {
        if self.stages.is_empty() {
            return false;
        }
        let (Some(id), Some(stage)) = (api_id, stage) else {
            return false;
        };
        self.stages.iter().any(|s| {
            s == "*"
                || s.split_once('/')
                    .is_some_and(|(i, st)| i == id && (st == stage || st == "*"))
        })
    }

    /// An access-log record of a joined REST stage.
    pub fn joins_record(&self, t: &crate::transaction::Transaction) -> bool {
        t.api.kind == crate::transaction::ApiKind::Rest
            && self.joins(t.api.id.as_deref(), t.api.stage.as_deref())
    }

    /// Execution logs of a joined stage: from the log group's name, else the filter's name.
    pub fn joins_group(&self, ctx: &super::normalize::Context<'_>) -> bool {
        if self.stages.is_empty() {
            return false;
        }
        if let Some((id, stage)) = super::normalize::exec_log_group(ctx.log_group) {
            return self.joins(Some(id), Some(stage));
        }
        ctx.subscription_filters
            .iter()
            .filter_map(|n| super::normalize::FilterName::parse(n))
            .any(|f| self.joins(f.api_id, f.stage))
    }
}
