//! A log group as read: existence, retention, class and subscription filters. Below discovery
//! and execution logging, which both read log groups.

use serde::Serialize;

use super::{is_ours, OpsError};

/// A subscription filter on a log group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FilterInfo {
    pub name: String,
    pub destination_arn: Option<String>,
    pub ours: bool,
}

/// What is known about a log group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogGroupState {
    pub name: String,
    pub exists: bool,
    pub retention_days: Option<i32>,
    /// `STANDARD`, `INFREQUENT_ACCESS`... (subscription filters need `STANDARD`).
    pub class: Option<String>,
    pub filters: Vec<FilterInfo>,
}

impl LogGroupState {
    pub fn missing(name: &str) -> LogGroupState {
        LogGroupState {
            name: name.to_string(),
            exists: false,
            retention_days: None,
            class: None,
            filters: Vec::new(),
        }
    }

    pub fn ours(&self) -> impl Iterator<Item = &FilterInfo> {
        self.filters.iter().filter(|f| f.ours)
    }

    pub fn foreign(&self) -> impl Iterator<Item = &FilterInfo> {
        self.filters.iter().filter(|f| !f.ours)
    }

    /// Subscription filters need the Standard log class (the default when absent).
    pub fn accepts_subscriptions(&self) -> bool {
        self.class
            .as_deref()
            .is_none_or(|c| c.eq_ignore_ascii_case("STANDARD"))
    }
}

/// Read a log group's existence, retention, class and subscription filters.
pub async fn read_log_group(
    logs: &aws_sdk_cloudwatchlogs::Client,
    name: &str,
) -> Result<LogGroupState, OpsError> {
    let mut found = None;
    let mut pages = logs
        .describe_log_groups()
        .log_group_name_prefix(name)
        .into_paginator()
        .send();
    'pages: while let Some(page) = pages.next().await {
        let page = page.map_err(|e| OpsError::aws("DescribeLogGroups", name, e))?;
        for g in page.log_groups() {
            if g.log_group_name() == Some(name) {
                found = Some(g.clone());
                break 'pages;
            }
        }
    }
    let Some(group) = found else {
        return Ok(LogGroupState::missing(name));
    };
    let mut filters = Vec::new();
    let mut pages = logs
        .describe_subscription_filters()
        .log_group_name(name)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| OpsError::aws("DescribeSubscriptionFilters", name, e))?;
        for f in page.subscription_filters() {
            let fname = f.filter_name().unwrap_or_default().to_string();
            filters.push(FilterInfo {
                ours: is_ours(&fname),
                name: fname,
                destination_arn: f.destination_arn().map(str::to_string),
            });
        }
    }
    Ok(LogGroupState {
        name: name.to_string(),
        exists: true,
        retention_days: group.retention_in_days(),
        class: group.log_group_class().map(|c| c.as_str().to_string()),
        filters,
    })
}
