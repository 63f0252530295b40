//! The Bridge client against a hostile collector and token endpoint (plain axum servers on
//! 127.0.0.1, written here so they can misbehave as no receiver would): redirects to another host,
//! absurd `Retry-After` and `expires_in` values, a huge token body. Truth is what the servers saw.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apigw_stream::ship::bridge::auth::{Auth, AuthMethod, TokenError, TokenSource};
use apigw_stream::ship::bridge::client::{
    http_client, BridgeClient, ClientConfig, DeliveryError, Outcome,
};
use apigw_stream::ship::bridge::{Format, Secret, SecretSource};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

const SECRET: &str = "hostile-test-secret-Qx7";

/// What a server saw: (path, Authorization header, body).
type Seen = Arc<Mutex<Vec<(String, Option<String>, Vec<u8>)>>>;

/// Serve `answer` for every POST, recording each request; returns the base URL.
async fn serve(
    answer: impl Fn(&str) -> Response + Clone + Send + Sync + 'static,
) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let app = Router::new().fallback(
        move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
            let record = record.clone();
            let answer = answer.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                record
                    .lock()
                    .unwrap()
                    .push((uri.path().to_string(), auth, body.to_vec()));
                answer(uri.path())
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), seen)
}

fn redirect(status: u16, to: &str) -> Response {
    let mut r = StatusCode::from_u16(status).unwrap().into_response();
    r.headers_mut().insert("location", to.parse().unwrap());
    r
}

fn config() -> ClientConfig {
    ClientConfig {
        request_timeout: Duration::from_secs(5),
        deadline_margin: Duration::from_millis(100),
        base_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        allow_insecure_http: true,
        ..ClientConfig::default()
    }
}

fn client(url: &str, auth: Auth) -> BridgeClient {
    let config = config();
    BridgeClient::new(
        http_client(&config).unwrap(),
        url,
        Arc::new(auth),
        Format::Uap,
        config,
    )
    .unwrap()
}

fn oauth(token_url: &str) -> Auth {
    let http = http_client(&config()).unwrap();
    Auth::OAuth(Box::new(TokenSource::new(
        http,
        token_url,
        "client",
        SecretSource::Static(Secret::new(SECRET)),
        AuthMethod::Body,
        Duration::from_secs(5),
    )))
}

const WINDOW: &[u8] = br#"{"data":[]}"#;

#[tokio::test]
async fn collector_redirects_are_failures_and_nothing_reaches_the_target() {
    let (sink, sink_seen) = serve(|_| StatusCode::OK.into_response()).await;
    for status in [301u16, 302, 303, 307, 308] {
        let target = format!("{sink}/elsewhere");
        let (bridge, bridge_seen) = serve(move |_| redirect(status, &target)).await;
        let c = client(
            &format!("{bridge}/api-transactions"),
            Auth::Header {
                name: "x-api-key".parse().unwrap(),
                value: Secret::new(SECRET),
            },
        );
        let result = c
            .post(WINDOW.to_vec(), Instant::now() + Duration::from_secs(5))
            .await;
        match &result.outcome {
            Outcome::Failed(
                e @ DeliveryError::Redirected {
                    status: s,
                    location,
                },
            ) => {
                assert_eq!(*s, status);
                assert_eq!(location, "127.0.0.1");
                let text = e.to_string();
                assert!(
                    text.contains(&status.to_string()) && text.contains("127.0.0.1"),
                    "{text}"
                );
            }
            other => panic!("HTTP {status}: expected a redirect failure, got {other:?}"),
        }
        assert_eq!(result.attempts, 1);
        assert_eq!(bridge_seen.lock().unwrap().len(), 1);
    }
    assert!(
        sink_seen.lock().unwrap().is_empty(),
        "a redirect was followed: {:?}",
        sink_seen.lock().unwrap()
    );
}

#[tokio::test]
async fn token_endpoint_redirect_keeps_the_secret_home() {
    let (sink, sink_seen) = serve(|_| {
        axum::Json(serde_json::json!({"access_token": "stolen", "expires_in": 300})).into_response()
    })
    .await;
    let target = format!("{sink}/token");
    let (auth_host, auth_seen) = serve(move |_| redirect(307, &target)).await;
    let (bridge, bridge_seen) = serve(|_| StatusCode::OK.into_response()).await;
    let c = client(
        &format!("{bridge}/api-transactions"),
        oauth(&format!("{auth_host}/token")),
    );
    let result = c
        .post(WINDOW.to_vec(), Instant::now() + Duration::from_secs(5))
        .await;
    match &result.outcome {
        Outcome::Failed(DeliveryError::Auth(e @ TokenError::Redirected { status: 307, .. })) => {
            assert!(!e.is_transient(), "a redirect is permanent");
        }
        other => panic!("expected a token redirect failure, got {other:?}"),
    }
    assert_eq!(
        auth_seen.lock().unwrap().len(),
        1,
        "asked once, not retried"
    );
    assert!(
        sink_seen.lock().unwrap().is_empty(),
        "the client secret left for another host"
    );
    assert!(
        bridge_seen.lock().unwrap().is_empty(),
        "no token, no request"
    );
}

#[tokio::test]
async fn absurd_retry_after_values_neither_panic_nor_spin() {
    for value in [
        "18446744073709551615",
        "99999999999999999999999999",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "0",
        "-5",
    ] {
        let v = value.to_string();
        let (bridge, seen) = serve(move |_| {
            let mut r = StatusCode::TOO_MANY_REQUESTS.into_response();
            r.headers_mut().insert("retry-after", v.parse().unwrap());
            r
        })
        .await;
        let c = client(&format!("{bridge}/api-transactions"), Auth::None);
        let started = Instant::now();
        let result = c
            .post(WINDOW.to_vec(), Instant::now() + Duration::from_secs(2))
            .await;
        assert!(
            matches!(
                result.outcome,
                Outcome::Failed(DeliveryError::Exhausted { .. })
            ),
            "Retry-After {value}: {:?}",
            result.outcome
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "Retry-After {value}"
        );
        // Retry-After: 0 (or junk) still backs off: 2 s at ≥ 20 ms per wait is at most ~100 tries.
        let requests = seen.lock().unwrap().len();
        assert!(
            requests <= 100,
            "Retry-After {value}: {requests} requests, no backoff"
        );
    }
}

#[tokio::test]
async fn absurd_token_lifetimes_and_huge_token_bodies_are_contained() {
    let (bridge, bridge_seen) = serve(|_| StatusCode::OK.into_response()).await;
    let (auth_host, _) = serve(|path| match path {
        "/max" => axum::Json(serde_json::json!({"access_token": "t1", "expires_in": u64::MAX}))
            .into_response(),
        "/float" => axum::Json(serde_json::json!({"access_token": "t2", "expires_in": 1e300}))
            .into_response(),
        "/control" => {
            axum::Json(serde_json::json!({"access_token": "bad\u{7}token", "expires_in": 60}))
                .into_response()
        }
        // 400 MB, streamed: the client must stop reading long before the end.
        _ => {
            let chunk = Bytes::from(vec![b' '; 1 << 20]);
            let stream =
                futures::stream::iter(std::iter::repeat_n(chunk, 400).map(Ok::<_, std::io::Error>));
            Response::new(Body::from_stream(stream))
        }
    })
    .await;
    let deadline = || Instant::now() + Duration::from_secs(5);
    for path in ["/max", "/float"] {
        let c = client(
            &format!("{bridge}/api-transactions"),
            oauth(&format!("{auth_host}{path}")),
        );
        let r = c.post(WINDOW.to_vec(), deadline()).await;
        assert!(
            matches!(r.outcome, Outcome::Delivered),
            "{path}: {:?}",
            r.outcome
        );
    }
    assert_eq!(bridge_seen.lock().unwrap().len(), 2);

    let c = client(
        &format!("{bridge}/api-transactions"),
        oauth(&format!("{auth_host}/control")),
    );
    let r = c.post(WINDOW.to_vec(), deadline()).await;
    match r.outcome {
        Outcome::Failed(DeliveryError::Auth(e)) => assert!(!e.is_transient(), "{e}"),
        other => panic!("a token with a control character: {other:?}"),
    }

    let started = Instant::now();
    let c = client(
        &format!("{bridge}/api-transactions"),
        oauth(&format!("{auth_host}/huge")),
    );
    let r = c.post(WINDOW.to_vec(), deadline()).await;
    match r.outcome {
        Outcome::Failed(DeliveryError::Auth(TokenError::TooLarge { .. })) => {}
        other => panic!("a 400 MB token body: {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(
        bridge_seen.lock().unwrap().len(),
        2,
        "no request without a token"
    );
}
