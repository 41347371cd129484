//! A real moto server for the tests: started once per test process on 127.0.0.1 and a free port, stopped
//! when the process ends (a watchdog shell kills it when the test binary is gone).

use crate::root;
use aws_config::{BehaviorVersion, SdkConfig};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub struct Moto {
    pub endpoint: String,
    /// The watchdog shell; it ends with the test process, taking moto_server with it.
    _watchdog: std::sync::Mutex<std::process::Child>,
}

fn moto_binary() -> PathBuf {
    let path = std::env::var_os("MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv/bin/moto_server"));
    assert!(
        path.exists(),
        "moto_server not found at {} — run `make venv` (make test does) or set MOTO_SERVER",
        path.display()
    );
    path
}

/// The shared server, started on first use.
pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| Moto::start(&moto_binary().display().to_string()))
}

/// A second server that answers one request at a time, each to its end, as DynamoDB applies each request
/// atomically: for tests that deliver events truly concurrently. (moto_server's threads interleave inside a
/// request, so two concurrent conditional transactions on one item can both succeed there — never on AWS.)
pub fn serial_moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| Moto::start(&python_server("")))
}

/// The soak's own server (serial too). It keeps no DynamoDB stream records: moto keeps every record forever
/// and deep-copies a table, its records included, for each item of each transaction, which makes a long soak
/// quadratic. The tests never read moto's stream: they play TTL's stream records themselves.
pub fn soak_moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        Moto::start(&python_server(
            "from moto.dynamodb.models.table import StreamShard; StreamShard.add = lambda self, old, new: None; ",
        ))
    })
}

/// A command starting moto's app with werkzeug, one request at a time, after `setup` (Python statements).
fn python_server(setup: &str) -> String {
    let python = moto_binary().with_file_name("python");
    let server = format!(
        "import os, sys; {setup}from werkzeug.serving import run_simple; \
         from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app; \
         os.environ['MOTO_PORT'] = sys.argv[1]; \
         run_simple('127.0.0.1', int(sys.argv[1]), DomainDispatcherApplication(create_backend_app), threaded=False, request_handler=MotoRequestHandler)"
    );
    format!("{} -c \"{server}\"", python.display())
}

impl Moto {
    /// Starts `command -H 127.0.0.1 -p PORT` (or `command PORT` for the serial server) under a watchdog.
    fn start(command: &str) -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let args = if command.contains(" -c ") {
            format!("{port}")
        } else {
            format!("-H 127.0.0.1 -p {port}")
        };
        let script = format!(
            "{command} {args} >/dev/null 2>&1 & m=$!; while kill -0 {test} 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 1; done; kill $m 2>/dev/null",
            test = std::process::id(),
        );
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(script)
            // Its own output goes nowhere: a caller capturing this process's output (a test running the
            // benchmark) must not wait for the watchdog to close the pipes.
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto ({command}) did not listen on 127.0.0.1:{port} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let moto = Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            _watchdog: std::sync::Mutex::new(watchdog),
        };
        moto.keep_tasks_as_ecs_leaves_them();
        moto
    }

    /// moto advances a task one state (RUNNING → DEACTIVATING → … → STOPPED) every time DescribeTasks
    /// reads it; ECS does not. The sweep's reconciliation describes RUNNING tasks, so a task here stays as it is
    /// until it is stopped.
    fn keep_tasks_as_ecs_leaves_them(&self) {
        use std::io::{Read, Write};
        let host = self.endpoint.trim_start_matches("http://");
        let body = r#"{"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1000000000}}"#;
        let request = format!(
            "POST /moto-api/state-manager/set-transition HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let mut stream = TcpStream::connect(host).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(
            response.starts_with("HTTP/1.1 20") || response.starts_with("HTTP/1.0 20"),
            "moto refused the task transition setting: {response}"
        );
    }
}

impl Moto {
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "test", "test", None, None, "moto",
            ))
            .load()
            .await
    }
}

impl Moto {
    /// POSTs a form to moto (EC2-style query APIs) and returns the body.
    pub fn post_form(&self, form: &str) -> String {
        self.post(
            "ec2",
            "Content-Type: application/x-www-form-urlencoded",
            form,
        )
    }

    /// POSTs `body` to moto, signed (as far as moto looks) for `service`, with `headers` (CRLF-separated), and
    /// returns the whole response, headers included.
    pub fn post(&self, service: &str, headers: &str, body: &str) -> String {
        use std::io::{Read, Write};
        let host = self.endpoint.trim_start_matches("http://");
        let mut stream = TcpStream::connect(host).unwrap();
        let request = format!(
            "POST / HTTP/1.1\r\nHost: {host}\r\n{headers}\r\nAuthorization: AWS4-HMAC-SHA256 Credential=test/20261121/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    }
}

/// A table name no other test uses.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}
