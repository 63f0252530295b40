//! The local Bridge receiver: token endpoint, bearer check, UAP validation, accepted windows on disk.

mod common;
mod ship_support;

use apigw_stream::ship::bridge::receiver::ReceiverConfig;
use apigw_stream::ship::bridge::window::{encode_record, window_body};
use apigw_stream::ship::bridge::Format;
use serde_json::Value;
use ship_support::*;

async fn token(
    rx: &apigw_stream::ship::bridge::receiver::Receiver,
    http: &reqwest::Client,
    secret: &str,
) -> reqwest::Response {
    http.post(rx.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", secret),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn receiver_checks_credentials_tokens_and_format() {
    let out = tempfile::tempdir().unwrap();
    let rx = receiver(ReceiverConfig {
        out_dir: Some(out.path().to_path_buf()),
        ..ReceiverConfig::default()
    })
    .await;
    let http = reqwest::Client::new();

    let refused = token(&rx, &http, "nope").await;
    assert_eq!(refused.status(), 401);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );

    let ok = token(&rx, &http, CLIENT_SECRET).await;
    assert_eq!(ok.status(), 200);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 1800);
    let tok = body["access_token"].as_str().unwrap().to_string();
    let exp = apigw_stream::ship::bridge::auth::jwt_exp(&tok).expect("a JWT with exp");
    assert!(exp > 1_700_000_000);

    let records: Vec<_> = (0..3)
        .map(|i| encode_record(Format::Uap, &txn(i), 0, 1_000_000))
        .collect();
    let window = window_body(&records, Format::Uap);

    let no_token = http
        .post(rx.transactions_url())
        .body(window.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 401);
    assert!(no_token.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));

    let bad = http
        .post(rx.transactions_url())
        .bearer_auth(&tok)
        .body(r#"{"data":[{"timestamp":"17","version":"1.0"}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let reason = bad.text().await.unwrap();
    assert!(reason.contains("transaction-id"), "{reason}");

    let good = http
        .post(rx.transactions_url())
        .bearer_auth(&tok)
        .header("content-type", "application/json")
        .body(window.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(good.status(), 200);
    assert_eq!(
        rx.accepted_ids(),
        (0..3).map(|i| txn(i).id).collect::<Vec<_>>()
    );
    let written = std::fs::read(out.path().join("window-000001.json")).unwrap();
    assert_eq!(written, window);
    let s = rx.stats();
    assert_eq!(
        (s.token_requests, s.tokens_issued, s.unauthorized, s.invalid),
        (2, 1, 1, 1)
    );

    rx.revoke_tokens();
    let revoked = http
        .post(rx.transactions_url())
        .bearer_auth(&tok)
        .body(window)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 401);
}

#[tokio::test]
async fn injected_statuses_come_first_and_in_order() {
    let rx = receiver(ReceiverConfig {
        no_auth: true,
        ..ReceiverConfig::default()
    })
    .await;
    rx.push_statuses([500, 429, 413]);
    let http = reqwest::Client::new();
    let records = vec![encode_record(Format::Uap, &txn(0), 0, 1_000_000)];
    let window = window_body(&records, Format::Uap);
    let mut seen = Vec::new();
    for _ in 0..4 {
        let r = http
            .post(rx.transactions_url())
            .body(window.clone())
            .send()
            .await
            .unwrap();
        seen.push(r.status().as_u16());
    }
    assert_eq!(seen, [500, 429, 413, 200]);
    assert_eq!(rx.stats().faults_injected, 3);
}
