//! The AWS failures on-call meets, each produced for real and its one line asserted word for word: the
//! configuration refused before any call (no region, an unknown profile), a profile whose SSO login is
//! missing, an endpoint that refuses connections, and a server answering AccessDenied, a 500 or throttling
//! (a loopback HTTP server that answers every request so, as AWS or a proxy in front of it would).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `ecs-reactor ARGS` with nothing from this machine's AWS setup: no profile files, no credentials, no
/// region, no instance metadata; `env` on top.
fn ecs_reactor(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ecs-reactor"));
    command.args(args);
    for name in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "REACTOR_TABLE",
        "REACTOR_STACK",
    ] {
        command.env_remove(name);
    }
    let home = scratch("home");
    command
        .env("HOME", &home)
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (name, value) in env {
        command.env(name, value);
    }
    let out = command.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn scratch(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(crate::moto::unique(&format!("aws-errors-{what}")));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

/// A loopback HTTP server answering every request with `status` and `body` (DynamoDB's JSON protocol).
fn answering(status: u16, body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            // The headers, then as much body as Content-Length says.
            while let Ok(n @ 1..) = stream.read(&mut buffer) {
                request.extend_from_slice(&buffer[..n]);
                let text = String::from_utf8_lossy(&request);
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            let (name, value) = l.split_once(':')?;
                            name.eq_ignore_ascii_case("content-length")
                                .then(|| value.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            let reason = if status == 200 { "OK" } else { "Error" };
            let _ = write!(
                stream,
                "HTTP/1.1 {status} {reason}\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{address}")
}

/// Environment variables a case sets.
type Env = Vec<(&'static str, String)>;

const KEYS: [(&str, &str); 2] = [("AWS_ACCESS_KEY_ID", "a"), ("AWS_SECRET_ACCESS_KEY", "b")];

#[test]
fn each_aws_failure_is_one_line_naming_the_cause_and_what_to_do() {
    let home = scratch("profiles");
    let config = write(
        &home,
        "config",
        "[profile oncall]\nregion = us-east-1\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = OnCall\n\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n",
    );
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let closed_url = format!("http://127.0.0.1:{closed}");
    let denied = answering(
        400,
        r#"{"__type":"com.amazonaws.dynamodb.v20120810#AccessDeniedException","message":"User: arn:aws:sts::111122223333:assumed-role/OnCall/alice is not authorized to perform: dynamodb:Query on resource: arn:aws:dynamodb:us-east-1:111122223333:table/attempts/index/byJob"}"#,
    );
    let broken = answering(
        500,
        r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal server error"}"#,
    );
    let throttled = answering(
        400,
        r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate exceeded"}"#,
    );
    let runs = ["runs", "--table", "attempts", "--job", "nightly"];
    let with_keys = |extra: &[(&'static str, String)]| -> Env {
        let mut env: Env = KEYS.iter().map(|(k, v)| (*k, v.to_string())).collect();
        env.extend(extra.iter().cloned());
        env
    };
    let region = ("AWS_REGION", "us-east-1".to_owned());
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<&str>, Env, String)> = vec![
        ("no region", runs.to_vec(), with_keys(&[]),
            "no AWS region: pass --region REGION or set AWS_REGION".into()),
        ("an unknown profile, credentials in the environment", [&runs[..], &["--profile", "nope"]].concat(), with_keys(&[region.clone(), ("AWS_CONFIG_FILE", config.clone())]),
            "AWS profile \"nope\" is not in ~/.aws/config or ~/.aws/credentials (defined: oncall): check --profile / AWS_PROFILE (aws configure list-profiles)".into()),
        ("an unknown AWS_PROFILE", runs.to_vec(), with_keys(&[region.clone(), ("AWS_PROFILE", "nope".into())]),
            "AWS profile \"nope\" is not in ~/.aws/config or ~/.aws/credentials (none is defined): check --profile / AWS_PROFILE (aws configure list-profiles)".into()),
        ("an SSO profile never logged in", [&runs[..], &["--profile", "oncall"]].concat(), vec![("AWS_CONFIG_FILE", config.clone())],
            "no usable AWS credentials for profile \"oncall\" (failed to load the cached SSO token): log in (aws sso login --profile oncall) or fix the profile".into()),
        ("a closed port", runs.to_vec(), with_keys(&[region.clone(), ("AWS_ENDPOINT_URL", closed_url.clone())]),
            format!("AWS could not be reached at 127.0.0.1:{closed}: Connection refused (os error 111); check --region / AWS_REGION, AWS_ENDPOINT_URL and the network")),
        ("access denied", runs.to_vec(), with_keys(&[region.clone(), ("AWS_ENDPOINT_URL", denied.clone())]),
            "AWS refused the call: AccessDeniedException: User: arn:aws:sts::111122223333:assumed-role/OnCall/alice is not authorized to perform: dynamodb:Query on resource: arn:aws:dynamodb:us-east-1:111122223333:table/attempts/index/byJob; the caller needs that permission on table \"attempts\", or its credentials are expired (aws sso login)".into()),
        ("a server error", runs.to_vec(), with_keys(&[region.clone(), ("AWS_ENDPOINT_URL", broken.clone())]),
            "AWS answered with an error: InternalServerError: Internal server error".into()),
        ("throttled", runs.to_vec(), with_keys(&[region.clone(), ("AWS_ENDPOINT_URL", throttled.clone())]),
            "AWS throttled the calls (ThrottlingException); try again in a moment".into()),
    ];
    for (what, args, env, expected) in &cases {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (code, stdout, stderr) = ecs_reactor(args, &env);
        assert_eq!(code, 5, "{what}: {stderr}");
        assert!(stdout.is_empty(), "{what}: {stdout}");
        assert_eq!(
            stderr.trim_end(),
            format!("ecs-reactor: {expected}"),
            "{what}"
        );
    }
}

/// A reader that stops reading (`ecs-reactor … | head`) ends the command quietly with 0, not a panic
/// (exit 101): the output is written only after the reader has gone, so the write certainly fails.
#[test]
fn a_closed_pipe_ends_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ecs-reactor"))
        .args(["validate", "-"])
        .current_dir(crate::cli::root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"job": "j", "runTask": {"taskDefinition": "td:1"}}"#)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
