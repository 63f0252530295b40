//! The client secret from Secrets Manager (moto's server): read through the configuration path the
//! Lambda uses, cached, and re-read after the token endpoint refuses it (rotation).

mod common;
mod ship_support;

use std::collections::HashMap;
use std::time::Duration;

use apigw_stream::ship::bridge::receiver::ReceiverConfig;
use apigw_stream::ship::bridge::Secret;
use apigw_stream::ship::{ShipConfig, Shipper};
use ship_support::*;

#[tokio::test]
async fn secret_from_secrets_manager_and_rotation() {
    let moto = common::Moto::start();
    let sdk = moto.sdk_config();
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let arn = sm
        .create_secret()
        .name("apigw-stream/bridge-client")
        .secret_string(r#"{"client_id":"apigw-stream-test","client_secret":"old-secret-1"}"#)
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();

    // The receiver already wants the rotated secret.
    let rx = apigw_stream::ship::bridge::receiver::Receiver::start(
        "127.0.0.1:0".parse().unwrap(),
        ReceiverConfig {
            client_id: Some(CLIENT_ID.into()),
            client_secret: Some(Secret::new("new-secret-2")),
            ..ReceiverConfig::default()
        },
    )
    .await
    .unwrap();
    let env: HashMap<&str, String> = HashMap::from([
        ("BRIDGE_URL", rx.base_url()),
        ("AUTH_URL", rx.token_url()),
        ("CLIENT_ID", CLIENT_ID.to_string()),
        ("CLIENT_SECRET_ARN", arn.clone()),
        ("ALLOW_INSECURE_HTTP", "true".to_string()),
        ("DEADLINE_MARGIN_MS", "200".to_string()),
    ]);
    let config = ShipConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
    assert!(config.needs_aws());
    assert!(matches!(
        Shipper::from_config(&config, None),
        Err(apigw_stream::config::ShipConfigError::NeedsAws)
    ));
    let shipper = Shipper::from_config(&config, Some(&sdk)).unwrap();
    let (messages, ids) = batch(&[10, 10]);

    let report = shipper.ship(&messages, deadline(10)).await;
    assert_eq!(report.failed.len(), 2, "the old secret is refused");
    assert_eq!(rx.stats().token_refusals, 1);

    sm.put_secret_value()
        .secret_id(&arn)
        .secret_string(r#"{"client_id":"apigw-stream-test","client_secret":"new-secret-2"}"#)
        .send()
        .await
        .unwrap();
    // A refusal is held for 5 s so a batch of windows does not hammer the token endpoint.
    tokio::time::sleep(Duration::from_millis(5100)).await;
    let report = shipper.ship(&messages, deadline(10)).await;
    assert!(
        report.failed.is_empty(),
        "the rotated secret is read again after the refusal"
    );
    assert_eq!(sorted(rx.accepted_ids()), sorted(ids.concat()));
    assert_eq!(rx.stats().tokens_issued, 1);
}
