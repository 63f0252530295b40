//! Joined mode: the merge rules for one REST request seen by both sources, its access-log record
//! and its execution-log record. The result is the same canonical record (`apigw-stream/v1`).
//!
//! | field | from | why |
//! |---|---|---|
//! | `request.client_ip` | access | `$context.identity.sourceIp` is the caller; the execution log only has `X-Forwarded-For`, which the client can write |
//! | `response.latency_ms` | access | `responseLatency` is API Gateway's total; the execution log's first-to-last line time is an estimate |
//! | `time_ms` | access | `requestTimeEpoch` is when the request arrived |
//! | `request.protocol`, `response.length`, `api.domain` | access | execution logs do not say |
//! | `request.headers`, `response.headers`, bodies, `request.query` | execution | access logs carry only the user agent and no query |
//! | `response.integration_latency_ms` | execution | from `Received response … Integration latency`, the integration's own figure |
//! | `method`, `path`, `route`, `status`, `host`, `api.*` | execution, else access | both say; on conflict the execution log's is kept (it is the request as API Gateway handled it) |
//! | `flags` | both | `discovery_only` only when neither captured headers or a body; `body_truncated`, `partial` from the execution record |
//! | `source` | execution | where the request's lines were read |
//!
//! The WAF response code and the authorizer principal of the access log have no field in the v1
//! record, so they are not carried either way (a later schema version can add them; the rule is
//! then "access wins").

use crate::transaction::Transaction;

/// Merge `access` into `exec` (both records of one request) by the rules above.
pub fn merge(mut exec: Transaction, access: &Transaction) -> Transaction {
    let a = access;
    // Access wins.
    if a.request.client_ip.is_some() {
        exec.request.client_ip = a.request.client_ip.clone();
    }
    if a.response.latency_ms.is_some() {
        exec.response.latency_ms = a.response.latency_ms;
    }
    exec.time_ms = a.time_ms;
    fill(&mut exec.request.protocol, &a.request.protocol);
    if a.response.length.is_some() {
        exec.response.length = a.response.length;
    }
    if a.api.domain.is_some() {
        exec.api.domain = a.api.domain.clone();
    }
    // Execution wins; access fills what it lacks.
    fill(&mut exec.request.method, &a.request.method);
    fill(&mut exec.request.path, &a.request.path);
    fill(&mut exec.request.route, &a.request.route);
    fill(&mut exec.request.query, &a.request.query);
    fill(&mut exec.request.host, &a.request.host);
    fill(&mut exec.request.scheme, &a.request.scheme);
    if exec.response.status.is_none() {
        exec.response.status = a.response.status;
    }
    if exec.response.integration_latency_ms.is_none() {
        exec.response.integration_latency_ms = a.response.integration_latency_ms;
    }
    for (name, values) in &a.request.headers {
        exec.request
            .headers
            .entry(name.clone())
            .or_insert_with(|| values.clone());
    }
    fill(&mut exec.api.id, &a.api.id);
    fill(&mut exec.api.stage, &a.api.stage);
    fill(&mut exec.api.account, &a.api.account);
    fill(&mut exec.api.region, &a.api.region);
    exec.flags.discovery_only = exec.flags.discovery_only && a.flags.discovery_only;
    exec
}

fn fill(into: &mut Option<String>, from: &Option<String>) {
    if into.is_none() {
        into.clone_from(from);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::{Body, BodyEncoding, Source, SourceFormat};

    fn record(format: SourceFormat) -> Transaction {
        Transaction::new(
            "r1".into(),
            1_000,
            Source {
                log_group: "g".into(),
                log_stream: "s".into(),
                event_id: "e".into(),
                format,
            },
        )
    }

    #[test]
    fn access_wins_for_the_caller_and_total_latency_execution_for_the_exchange() {
        let mut exec = record(SourceFormat::Execution);
        exec.request.client_ip = Some("6.6.6.6".into()); // from X-Forwarded-For
        exec.request.headers.insert(
            "user-agent".into(),
            vec!["curl/8 (from the execution log)".into()],
        );
        exec.request.query = Some("q=1".into());
        exec.response.latency_ms = Some(7);
        exec.response.integration_latency_ms = Some(5);
        exec.response.status = Some(200);
        exec.response.body = Some(Body {
            data: "{}".into(),
            encoding: BodyEncoding::Utf8,
            truncated: false,
        });
        exec.flags.discovery_only = false;
        let mut access = record(SourceFormat::AccessJson);
        access.time_ms = 900;
        access.request.client_ip = Some("1.2.3.4".into());
        access.request.protocol = Some("HTTP/1.1".into());
        access
            .request
            .headers
            .insert("user-agent".into(), vec!["curl/8".into()]);
        access.response.latency_ms = Some(31);
        access.response.integration_latency_ms = Some(27);
        access.response.status = Some(502);
        access.response.length = Some(48);
        let m = merge(exec, &access);
        assert_eq!(m.request.client_ip.as_deref(), Some("1.2.3.4"));
        assert_eq!(m.response.latency_ms, Some(31));
        assert_eq!(m.time_ms, 900);
        assert_eq!(m.request.protocol.as_deref(), Some("HTTP/1.1"));
        assert_eq!(m.response.length, Some(48));
        assert_eq!(m.response.integration_latency_ms, Some(5));
        assert_eq!(m.response.status, Some(200), "conflict: execution kept");
        assert_eq!(
            m.request.headers["user-agent"],
            ["curl/8 (from the execution log)"]
        );
        assert_eq!(m.request.query.as_deref(), Some("q=1"));
        assert!(m.response.body.is_some() && !m.flags.discovery_only);
        assert_eq!(m.source.format, SourceFormat::Execution);
    }
}
