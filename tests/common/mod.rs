//! Test harness shared by the integration tests: moto's server on a free 127.0.0.1 port, SQS
//! queues in it, and the record fixtures ([`fixtures`], which the benchmarks include too).
#![allow(dead_code)]

pub mod fixtures;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A moto server process, killed when dropped.
pub struct Moto {
    child: Child,
    pub port: u16,
    pub endpoint: String,
}

/// Where `.ci/run` (and `scripts/setup-test-env`) install moto's server.
pub fn moto_server_path() -> PathBuf {
    if let Ok(p) = std::env::var("MOTO_SERVER") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/venv/bin/moto_server")
}

/// The venv's python and the extended server script.
pub fn ext_server() -> (PathBuf, PathBuf) {
    (
        moto_server_path().with_file_name("python"),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/moto/moto_server_ext.py"),
    )
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

impl Moto {
    /// Start moto's server and wait until it answers.
    pub fn start() -> Moto {
        Moto::start_with(&[])
    }

    /// As [`Moto::start`], with extra environment for the server (moto's own settings, e.g.
    /// `MOTO_IAM_LOAD_MANAGED_POLICIES`).
    pub fn start_with(env: &[(&str, &str)]) -> Moto {
        Moto::spawn(&moto_server_path(), None, env)
    }

    /// moto's server made faithful where the tests need AWS's behaviour
    /// (`tests/moto/moto_server_ext.py`: SQS FIFO receives, API Gateway as a delivery source,
    /// DescribeConfigurationTemplates).
    pub fn start_ext(env: &[(&str, &str)]) -> Moto {
        let (python, script) = ext_server();
        Moto::spawn(&python, Some(&script), env)
    }

    fn spawn(path: &std::path::Path, script: Option<&PathBuf>, env: &[(&str, &str)]) -> Moto {
        assert!(
            path.exists(),
            "{} not found — run scripts/setup-test-env (or .ci/run) first",
            path.display()
        );
        for _attempt in 0..5 {
            let port = free_port();
            let child = Command::new(path)
                .args(script)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("MOTO_ALLOW_NONEXISTENT_REGION", "true")
                .envs(env.iter().copied())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn moto_server");
            let mut moto = Moto {
                child,
                port,
                endpoint: format!("http://127.0.0.1:{port}"),
            };
            if moto.wait_ready(Duration::from_secs(30)) {
                return moto;
            }
            let _ = moto.child.kill();
        }
        panic!("moto_server did not start");
    }

    fn wait_ready(&mut self, timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false; // exited: port taken or broken install
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// SDK configuration pointing at this server (region us-east-1, dummy credentials).
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        apigw_stream::control::aws::emulator_config(&self.endpoint, "us-east-1")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Attributes of a queue to create in moto; those left unset keep SQS's defaults.
#[derive(Debug, Default, Clone, Copy)]
pub struct QueueOptions<'a> {
    pub visibility_secs: Option<u32>,
    pub max_message_bytes: Option<u32>,
    pub fifo: bool,
    /// The dead-letter queue's ARN and `maxReceiveCount`.
    pub redrive_to: Option<(&'a str, u32)>,
}

/// Create a queue; returns its URL.
pub async fn create_queue(sqs: &aws_sdk_sqs::Client, name: &str, opts: QueueOptions<'_>) -> String {
    use aws_sdk_sqs::types::QueueAttributeName;
    let mut req = sqs.create_queue().queue_name(name);
    if let Some(secs) = opts.visibility_secs {
        req = req.attributes(QueueAttributeName::VisibilityTimeout, secs.to_string());
    }
    if let Some(bytes) = opts.max_message_bytes {
        req = req.attributes(QueueAttributeName::MaximumMessageSize, bytes.to_string());
    }
    if opts.fifo {
        req = req.attributes(QueueAttributeName::FifoQueue, "true");
    }
    if let Some((arn, max)) = opts.redrive_to {
        req = req.attributes(
            QueueAttributeName::RedrivePolicy,
            format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"{max}"}}"#),
        );
    }
    req.send()
        .await
        .expect("CreateQueue")
        .queue_url()
        .expect("queue url")
        .to_string()
}

/// [`create_queue`], as the pipeline's queue type.
pub async fn sqs_queue(
    conf: &aws_config::SdkConfig,
    name: &str,
    opts: QueueOptions<'_>,
) -> apigw_stream::transport::queue::SqsQueue {
    let client = aws_sdk_sqs::Client::new(conf);
    let url = create_queue(&client, name, opts).await;
    apigw_stream::transport::queue::SqsQueue::new(client, url)
}

/// Every message visible in `q`, received 10 at a time without waiting, each hidden for
/// `visibility` (long enough that none comes back while draining).
pub async fn drain(
    q: &dyn apigw_stream::transport::queue::Queue,
    visibility: Duration,
) -> Vec<apigw_stream::transport::queue::InMessage> {
    drain_with(q, visibility, false).await
}

/// [`drain`], deleting each batch once received.
pub async fn drain_deleting(
    q: &dyn apigw_stream::transport::queue::Queue,
    visibility: Duration,
) -> Vec<apigw_stream::transport::queue::InMessage> {
    drain_with(q, visibility, true).await
}

async fn drain_with(
    q: &dyn apigw_stream::transport::queue::Queue,
    visibility: Duration,
    delete: bool,
) -> Vec<apigw_stream::transport::queue::InMessage> {
    let mut all = Vec::new();
    loop {
        let got = q
            .receive(10, Duration::ZERO, visibility)
            .await
            .expect("ReceiveMessage");
        if got.is_empty() {
            return all;
        }
        if delete {
            let handles: Vec<String> = got.iter().map(|m| m.receipt_handle.clone()).collect();
            q.delete(&handles).await.expect("DeleteMessageBatch");
        }
        all.extend(got);
    }
}

/// The reference directory with real log lines and samples.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The decode Lambda's work for one payload, as the function runs it: the decode stage with the
/// main queue as its only output.
pub async fn forward(
    input: &[u8],
    source_name: &str,
    opts: &apigw_stream::decode::DecodeOptions,
    message_bytes: usize,
    queue: &dyn apigw_stream::transport::queue::Queue,
    policy: &apigw_stream::transport::queue::SendPolicy,
) -> Result<apigw_stream::decode::DecodeStats, apigw_stream::decode::ForwardError> {
    forward_archived(input, source_name, opts, message_bytes, queue, policy, None).await
}

/// [`forward`] with the archive tee.
pub async fn forward_archived(
    input: &[u8],
    source_name: &str,
    opts: &apigw_stream::decode::DecodeOptions,
    message_bytes: usize,
    queue: &dyn apigw_stream::transport::queue::Queue,
    policy: &apigw_stream::transport::queue::SendPolicy,
    archive: Option<&apigw_stream::archive::Archiver>,
) -> Result<apigw_stream::decode::DecodeStats, apigw_stream::decode::ForwardError> {
    use apigw_stream::decode::{DecodeOutputs, DecodeStage};
    let stage = DecodeStage::new(opts.clone(), message_bytes, None);
    let frames = apigw_stream::transport::queue::QueueSink { queue, policy };
    let outputs = DecodeOutputs {
        frames: &frames,
        archive,
        fragments: None,
    };
    stage.run(input, source_name, &outputs).await
}
