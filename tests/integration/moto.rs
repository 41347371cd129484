//! A real moto server for the tests: started once per test process on 127.0.0.1 and a free port, stopped
//! when the process ends (a watchdog shell kills it when the test binary is gone).

use crate::cli::root;
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
    MOTO.get_or_init(|| {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let script = format!(
            "{bin} -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; while kill -0 {test} 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 1; done; kill $m 2>/dev/null",
            bin = moto_binary().display(),
            test = std::process::id(),
        );
        let watchdog = Command::new("sh").arg("-c").arg(script).stdin(Stdio::null()).spawn().expect("start moto_server");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not listen on 127.0.0.1:{port} within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto { endpoint: format!("http://127.0.0.1:{port}"), _watchdog: std::sync::Mutex::new(watchdog) }
    })
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
