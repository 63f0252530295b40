//! The control Lambda (auto-enable): CloudTrail API Gateway management events from EventBridge
//! enable the stage they name, and the scheduled reconcile checks every stage, both under the
//! policy set in the environment (`AUTO_ENABLE_SCOPE`, `AUTO_ENABLE_MODE`...). Each invocation
//! logs one summary line, prints its EMF metrics (`Function=control`) and returns the report.
//! All logic lives in `apigw_stream::control::ops::autoenable`, which runs `enable`'s plan and apply.

use std::sync::Arc;

use apigw_stream::config::ProcessEnv;
use apigw_stream::control::ops::autoenable::{self, ControlConfig, Trigger};
use apigw_stream::control::ops::RegionClients;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

/// Kept across invocations: settings, the SDK configuration and the function region's clients.
struct State {
    config: ControlConfig,
    /// `AWS_LAMBDA_FUNCTION_NAME`: the session name of its own calls in CloudTrail.
    function_name: String,
    base: aws_config::SdkConfig,
    clients: RegionClients,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    apigw_stream::config::init_lambda_logging();
    let config = match ControlConfig::from_env(&ProcessEnv) {
        Ok(c) => c,
        Err(e) => {
            apigw_stream::runtime::lambda_init::report_init_error("ConfigError", &e.to_string())
                .await;
            return Err(e.into());
        }
    };
    let base = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let Some(region) = base.region().map(|r| r.to_string()) else {
        let msg = "no AWS region (AWS_REGION is set by Lambda)";
        apigw_stream::runtime::lambda_init::report_init_error("ConfigError", msg).await;
        return Err(msg.into());
    };
    let clients = RegionClients::new(&base, &region);
    let state = Arc::new(State {
        config,
        function_name: std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default(),
        base,
        clients,
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let state = Arc::clone(&state);
        async move { handle(&state, event).await }
    }))
    .await
}

async fn handle(state: &State, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let request_id = event.context.request_id;
    let trigger = if autoenable::is_own_call(&event.payload, &state.function_name) {
        Trigger::Ignored {
            reason: "a change this function made".into(),
        }
    } else {
        autoenable::parse_event(&event.payload)
    };
    if let Trigger::Ignored { reason } = &trigger {
        tracing::info!(request_id, reason, "event ignored");
    }
    // The stages are in this function's account, whatever account the filters' destination is in
    // (a central pipeline's CloudWatch Logs destination).
    let mut config = state.config.clone();
    if config.enable.account.is_none() {
        config.enable.account =
            apigw_stream::control::ops::arn_parts(&event.context.invoked_function_arn)
                .map(|p| p.3.to_string())
                .filter(|a| !a.is_empty());
    }
    let report = autoenable::run(&state.base, &state.clients, &config, &trigger).await;
    for st in &report.stages {
        tracing::info!(
            request_id,
            stage = %st.stage,
            action = st.action.as_str(),
            changes = ?st.changes,
            detail = st.detail.as_deref().unwrap_or(""),
            "stage"
        );
    }
    for e in &report.errors {
        tracing::warn!(request_id, error = %e, "control error");
    }
    tracing::info!(
        request_id,
        trigger = %report.trigger,
        stats = %serde_json::to_string(&report.stats())?,
        "control summary"
    );
    apigw_stream::runtime::metrics::print_emf(&autoenable::report_emf(
        &report,
        apigw_stream::runtime::clock::now_ms(),
    ));
    if report.should_retry() {
        // Lambda retries an asynchronous invocation (EventBridge's) twice; the next reconcile
        // catches what still fails.
        return Err(format!(
            "{} stage(s) failed, {} error(s): {}",
            report.with(autoenable::Action::Failed).count(),
            report.errors.len(),
            report
                .with(autoenable::Action::Failed)
                .filter_map(|s| s.detail.clone())
                .chain(report.errors.iter().cloned())
                .collect::<Vec<_>>()
                .join("; ")
        )
        .into());
    }
    Ok(serde_json::to_value(&report)?)
}
