//! The real Lambda binaries under SAM's Runtime Interface Emulator (what `sam local invoke` runs inside its
//! container): started on 127.0.0.1 and a free port, invoked over HTTP like Lambda invokes them.
//!
//! The emulator's internal runtime API port is fixed (127.0.0.1:9001), so one runs at a time per machine:
//! [`Function`] holds a process-wide lock while it lives.

use crate::root;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// The emulator shipped with aws-sam-cli in the venv.
pub fn emulator() -> PathBuf {
    let arch = match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "x86_64",
    };
    let lib = root().join(".venv/lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|dirs| {
        dirs.filter_map(Result::ok)
            .map(|d| {
                d.path().join(format!(
                    "site-packages/samcli/local/rapid/aws-lambda-rie-{arch}"
                ))
            })
            .find(|p| p.exists())
    });
    found.unwrap_or_else(|| {
        panic!(
            "SAM's runtime emulator (aws-lambda-rie-{arch}) not found under {} — run `make venv` (make test does)",
            lib.display()
        )
    })
}

/// The three Lambda binaries and the CLI, built once per test process (debug profile, the one the tests use).
pub fn binaries() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(root())
            .args([
                "build",
                "--locked",
                "--bins",
                "-p",
                "starter",
                "-p",
                "classifier",
                "-p",
                "scheduler",
                "-p",
                "ecs-reactor",
            ])
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building the Lambda binaries failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root().join("target"));
        target.join("debug")
    })
}

/// The emulator's turn: held by each [`Function`], and by a test that runs emulators in a child process.
pub fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A Lambda binary running under the emulator.
pub struct Function {
    name: String,
    port: u16,
    log: PathBuf,
    child: Child,
    _turn: MutexGuard<'static, ()>,
}

/// An invocation's answer: HTTP status and body. A handler error is still HTTP 200, with `errorType`.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub fn error_type(&self) -> Option<&str> {
        self.body.get("errorType").and_then(Value::as_str)
    }
}

impl Function {
    /// Starts `name` (starter, classifier or scheduler) with the stack's environment, pointed at moto.
    pub fn start(name: &str, env: &[(&'static str, String)]) -> Function {
        Function::start_executable(name, &binaries().join(name), env)
    }

    /// Starts the executable `binary` (a Lambda `bootstrap`) as function `name`, like [`Function::start`].
    pub fn start_executable(name: &str, binary: &Path, env: &[(&'static str, String)]) -> Function {
        let turn = one_at_a_time();
        assert!(binary.exists(), "{} was not built", binary.display());
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let file: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let log = std::env::temp_dir().join(format!(
            "ecs-reactor-rie-{file}-{}-{port}.log",
            std::process::id()
        ));
        // The watchdog shell ends the emulator (and the function under it) if this test process dies.
        let script = format!(
            "{rie} --runtime-interface-emulator-address 127.0.0.1:{port} {binary} >{log} 2>&1 & r=$!; \
             while kill -0 {test} 2>/dev/null && kill -0 $r 2>/dev/null; do sleep 1; done; kill $r 2>/dev/null",
            rie = emulator().display(),
            binary = binary.display(),
            log = log.display(),
            test = std::process::id(),
        );
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(script)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_ENDPOINT_URL", &crate::moto::moto().endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_LAMBDA_FUNCTION_TIMEOUT", "30")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
            // The emulator writes to its log file; nothing of the watchdog may hold a caller's pipes.
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // The function shares the test's clock: under `make test-clock` (libfaketime) its wall clock is moved
        // too, as moto's and this process's are.
        for (key, value) in std::env::vars() {
            if key == "LD_PRELOAD" || key.starts_with("FAKETIME") {
                command.env(key, value);
            }
        }
        for (key, value) in env {
            command.env(key, value);
        }
        use std::os::unix::process::CommandExt;
        command.process_group(0);
        let child = command.spawn().expect("start the runtime emulator");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the runtime emulator did not listen on 127.0.0.1:{port}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Function {
            name: name.into(),
            port,
            log,
            child,
            _turn: turn,
        }
    }

    /// Invokes the function with `payload` (JSON text) and waits for its answer.
    pub fn invoke(&self, payload: &str) -> Answer {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let request = format!(
            "POST /2015-03-31/functions/function/invocations HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
            self.port,
            payload.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let response = String::from_utf8_lossy(&response);
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_owned()
        };
        let body = serde_json::from_str(&body).unwrap_or_else(|e| {
            panic!(
                "{}: the answer is not JSON ({e}): {body:?}\nlogs:\n{}",
                self.name,
                self.logs()
            )
        });
        Answer { status, body }
    }

    /// The function's own process (the emulator's child, in a process group of its own), once the emulator
    /// has started it. (The benchmark, which shares this file, reads its CPU time and memory; no test does.)
    #[allow(dead_code)]
    pub fn runtime_pid(&self) -> Option<u32> {
        let stat = |pid: u32| -> Option<(u32, u32)> {
            let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // After the command name in parentheses: state, ppid, pgrp.
            let mut rest = text.rsplit_once(')')?.1.split_whitespace().skip(1);
            Some((rest.next()?.parse().ok()?, rest.next()?.parse().ok()?))
        };
        // (pid, ppid, pgrp) of every process.
        let processes: Vec<(u32, u32, u32)> = std::fs::read_dir("/proc")
            .ok()?
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter_map(|pid| stat(pid).map(|(ppid, pgrp)| (pid, ppid, pgrp)))
            .collect();
        let emulator = std::fs::canonicalize(emulator()).ok()?;
        let (rie, _, _) = processes.iter().find(|(pid, _, pgrp)| {
            *pgrp == self.child.id()
                && std::fs::read_link(format!("/proc/{pid}/exe"))
                    .ok()
                    .as_deref()
                    == Some(emulator.as_path())
        })?;
        processes
            .iter()
            .find(|(_, ppid, _)| ppid == rie)
            .map(|(pid, _, _)| *pid)
    }

    /// Invokes the function once with `payload` and returns its answer, failing loudly on a handler error.
    pub fn answer(&self, payload: &Value) -> Value {
        let answer = self.invoke(&payload.to_string());
        assert!(
            answer.error_type().is_none(),
            "the function answered with an error: {}\n{}",
            answer.body,
            self.logs()
        );
        answer.body
    }

    /// What the function and the emulator wrote so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

impl Drop for Function {
    fn drop(&mut self) {
        // The whole process group: the watchdog shell, the emulator and the function under it.
        let _ = Command::new("kill")
            .arg("--")
            .arg(format!("-{}", self.child.id()))
            .status();
        let _ = self.child.wait();
        // The emulator's runtime API port must be free before the next one starts.
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", 9001)).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = std::fs::remove_file(&self.log);
    }
}
