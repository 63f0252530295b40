//! Telling Lambda why a function could not start. `lambda_runtime` posts to the Runtime API's
//! `/runtime/init/error` only around SnapStart hooks, so a bad setting would otherwise show up as
//! an anonymous `Runtime.ExitError`; reporting the cause puts its message (which names the
//! variable) in Lambda's init report as well as in the function's log.

use std::time::Duration;

/// Where Lambda publishes the Runtime API (`host:port`).
const RUNTIME_API_VAR: &str = "AWS_LAMBDA_RUNTIME_API";
const INIT_ERROR_PATH: &str = "/2018-06-01/runtime/init/error";

/// Log the failure and post it to `/runtime/init/error`. Outside Lambda (no
/// `AWS_LAMBDA_RUNTIME_API`), or when the post fails, it is only logged: the caller exits with the
/// error either way.
pub async fn report_init_error(error_type: &str, message: &str) {
    tracing::error!(error_type, error = message, "the function cannot start");
    let Some(api) = std::env::var(RUNTIME_API_VAR)
        .ok()
        .filter(|v| !v.trim().is_empty())
    else {
        return;
    };
    let body = serde_json::json!({
        "errorType": error_type,
        "errorMessage": message,
        "stackTrace": [],
    });
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the client for {INIT_ERROR_PATH}");
            return;
        }
    };
    let result = client
        .post(format!("http://{}{INIT_ERROR_PATH}", api.trim()))
        .header("Lambda-Runtime-Function-Error-Type", "Runtime.InitError")
        .json(&body)
        .send()
        .await;
    match result {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => tracing::error!(status = %r.status(), "{INIT_ERROR_PATH} refused the report"),
        Err(e) => tracing::error!(error = %e, "cannot reach {INIT_ERROR_PATH}"),
    }
}
