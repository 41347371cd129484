//! The judge's table of cases. Reason strings are real: each is quoted from the source named beside it
//! (AWS documentation, the ECS agent's source, or a public issue where a user pasted it). Every built-in
//! rule has at least one case; `every_builtin_rule_has_a_case` keeps it that way.

// Tables of cases read best as tuples.
#![allow(clippy::type_complexity)]

use super::*;
use crate::builtin::{LAUNCH_RULES, STOPPED_TASK_RULES};
use crate::policy::{Jitter, SplitMix64, UpperBound};
use std::collections::BTreeSet;

/// A container as the event lists it: (name, exit code, reason).
type C = (&'static str, Option<i32>, Option<&'static str>);

fn task(
    stop_code: Option<&str>,
    stopped_reason: Option<&str>,
    containers: &[C],
    launch_type: &str,
) -> Task {
    Task {
        cluster_arn: "arn:aws:ecs:us-east-1:111122223333:cluster/jobs".into(),
        task_definition_arn: "arn:aws:ecs:us-east-1:111122223333:task-definition/report:7".into(),
        version: 5,
        started_by: Some("ecs-reactor/nightly-20261121T023000Z/1".into()),
        cpu: Some("1024".into()),
        memory: Some("2048".into()),
        ..Task::stopped(
            "arn:aws:ecs:us-east-1:111122223333:task/jobs/0123456789abcdef0123456789abcdef",
            Some(launch_type),
            stop_code,
            stopped_reason,
            containers.iter().map(|&(name, exit_code, reason)| {
                (name.to_owned(), exit_code, reason.map(Into::into))
            }),
        )
    }
}

const EXITED: Option<&str> = Some("Essential container in task exited");
const F2S: Option<&str> = Some("TaskFailedToStart");
const ECE: Option<&str> = Some("EssentialContainerExited");

// — Deterministic causes inside transient-looking wrappers (issue: "the outer error decides").
// aws/aws-cdk#30680 (an attestation manifest where an image was expected).
const PULL_IN_TOTO: &str =
    "CannotPullContainerError: unsupported media type application/vnd.in-toto+json";
// aws/copilot-cli#2584.
const NORMALIZE_DOCKERFILE: &str =
    "InternalError: failed to normalize image reference \"Dockerfile\"";
// TechToSpeech/terraform-aws-serverless-static-wordpress#74 (awslogs-region wrong; cut off by ECS).
const LOGGER_MISSING_ENDPOINT: &str = "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: failed to create Cloudwatch log stream: MissingEndpoint: 'Endpoint' configuration is required for t";
// aws-samples/amazon-ecs-firelens-examples#29.
const FIRELENS_NO_LOG_CONFIG: &str = "CannotStartContainerError: ResourceInitializationError: failed to initialize logging driver: failed to get fluentd log driver arguments: logging driver specified of container app, but no log configuration specified";
// rileydakota/valheim-ecs-fargate-cdk#9 (a secret read by JSON key that is not JSON).
const SECRET_NOT_JSON: &str = "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): invalid character '\\'' looking for beginning of value";
// aws/copilot-cli#3350.
const EFS_ACCESS_DENIED: &str = "ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes: stderr: b'mount.nfs4: access denied by server while mounting 127.0.0.1:/' : unsuccessful EFS utils command execution; code: 32";
// aws/aws-sdk-js#2425.
const ENI_TAG_REFUSED: &str =
    "Unexpected EC2 error while attempting to tag the network interface: InvalidParameterValue";
// aws/amazon-ecs-agent#3021.
const INIT_OOM_KILLED: &str = "CannotStartContainerError: Error response from daemon: OCI runtime create failed: container_linux.go:380: starting container process caused: container init was OOM-killed (memory limit too low?): unknown";
// aws/amazon-ecs-agent#3526.
const MKNOD_524: &str = "Cannotstartcontainererror: ResourceInitializationError: failed to create new container runtime task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: error creating device nodes: mknod /run/containerd/io.containerd.runtime.v2.task/fargate.task/962011037cd2435a9aa5f40392d82936-2949673445/rootfs/dev/null: errno 524: unknown";
// aws/amazon-ecs-agent#932 (a 16.5 GB image).
const APPLY_LAYER: &str =
    "CannotPullContainerError: failed to register layer: ApplyLayer exit status 1 stdout: stderr:";
// aws/amazon-ecs-cli#181.
const VOLUME_NAME_INVALID: &str = "CannotCreateContainerError: API error (500): create ./volumes/nginx.conf: \"./volumes/nginx.conf\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed";

// — Real reason strings, with their sources.
// AWS knowledge center "ecs-pull-container-error-rate-limit".
const PULL_RATE_LIMIT: &str = "CannotPullContainerError: inspect image has been retried 5 time(s): httpReaderSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/manifests/sha256:2bb501e6429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit";
// aws/amazon-ecs-agent#498 (ECR GetAuthorizationToken throttled).
const ECR_THROTTLED: &str =
    "CannotPullECRContainerError: ThrottlingException: Rate exceeded status code: 400";
// deepfence/terraform-aws-cloud-scanner#13.
const PULL_IO_TIMEOUT: &str = "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref quay.io/deepfenceio/cloud-scanner:latest: failed to do request: Head \"https://quay.io/v2/deepfenceio/cloud-scanner/manifests/latest\": dial tcp 3.210.148.47:443: i/o timeout";
// ECS developer guide, task_cannot_pull_image.md (awsdocs/amazon-ecs-developer-guide).
const PULL_REQUEST_CANCELED: &str = "CannotPullContainerError: API error (500): Get https://111122223333.dkr.ecr.us-east-1.amazonaws.com/v2/: net/http: request canceled while waiting for connection";
// ECS developer guide, "CannotPullContainer task errors" (2024 wording).
const PULL_CONNECTION_ISSUE: &str = "The task cannot pull 'report' from the Amazon ECR repository '111122223333.dkr.ecr.us-east-1.amazonaws.com/report'. There is a connection issue between the task and Amazon ECR. Check your task network configuration.";
// docker/cli#2141 (Docker Hub outage), as ECS wraps it.
const PULL_503: &str = "CannotPullContainerError: Error response from daemon: received unexpected HTTP status: 503 Service Unavailable";
// aws/amazon-ecs-agent#719.
const PULL_NO_ENDPOINT: &str = "CannotPullContainerError: Could not reach any registry endpoint";
// ECS developer guide, task_cannot_pull_image.md.
const PULL_REPO_404: &str = "CannotPullContainerError: API error (404): repository 111122223333.dkr.ecr.us-east-1.amazonaws.com/report/app not found";
// aws/containers-roadmap#2687 (the tag was pushed again; the digest the task pinned is gone).
const PULL_DIGEST_GONE: &str = "CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref 12345678-eu-west-1.amazonaws.com/example-service:example-image:image-tag@sha256:sha digest: not found";
// aws/containers-roadmap#2493.
const PULL_BLOB_403: &str = "CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref .dkr.ecr.us-west-2.amazonaws.com/otel-collector:latest@sha256:863****9ac: unexpected status from HEAD request to https://.dkr.ecr.us-west-2.amazonaws.com/v2/otel-collector/blobs/sha256:863*****9ac: 403 Forbidden";
// amazonlinux/amazon-linux-2023#910.
const PULL_MANIFEST_UNKNOWN: &str = "CannotPullContainerError: manifest for amazonlinux:2023.6.20250203.1 not found: manifest unknown: manifest unknown";
// link-assistant/hive-mind#962 (Docker's text, as it appears inside CannotPullContainerError).
const PULL_NO_MATCHING_MANIFEST: &str = "CannotPullContainerError: no matching manifest for linux/arm64/v8 in the manifest list entries: no match for platform in manifest: not found";
// aws/amazon-ecs-agent ecs-agent/api/errors/error_messages.go (doc comment).
const PULL_ACCESS_DENIED: &str = "CannotPullContainerError: Error response from daemon: pull access denied for 123123123123.dkr.ecr.us-east-1.amazonaws.com/test_image, repository does not exist or may require 'docker login': denied: User: arn:aws:sts::123123123123:assumed-role/BrokenRole/xyz is not authorized to perform: ecr:BatchGetImage on resource: arn:aws:ecr:region:123123123123:repository/test_image because no identity-based policy allows the ecr:BatchGetImage action";
// aws/aws-cdk#14457.
const PULL_403: &str = "CannotPullContainerError: inspect image has been retried 1 time(s): failed to resolve ref \"xxxxx.xxx\": unexpected status code [manifests 6981141]: 403 Forbidden";
// PrefectHQ/prefect discussion #16964 (ghcr.io without repositoryCredentials).
const PULL_401: &str = "CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref ghcr.io/my-org/my-image:latest: failed to authorize: failed to fetch anonymous token: unexpected status from GET request to https://ghcr.io/token?scope=repository%3Amy-org%2Fmy-image%3Apull&service=ghcr.io: 401 Unauthorized";
// aws-samples/amazon-ecs-java-microservices#6.
const PULL_BAD_REFERENCE: &str = "CannotPullContainerError: Unable to pull customer's container image. ErrorCode: 500, Reason: invalid reference format.";
// docker-archive/compose-cli#911 (maintainer: a transient networking issue).
const PULL_RESOLVE_REF: &str = "CannotPullContainerError: failed to resolve ref \"docker.io/docker/ecs-searchdomain-sidecar:1.0\"";
// ECS developer guide, task_cannot_pull_image.md (EC2 host disk).
const PULL_HOST_DISK: &str = "CannotPullContainerError: write /var/lib/docker/tmp/GetImageBlob111111111: no space left on device";
// anomalyco/sst PR #3542 (Fargate: image larger than the ephemeral storage).
const PULL_FARGATE_DISK: &str = "CannotPullContainerError: ref pull has been retried 1 time(s): failed to extract layer sha256:7c524a8642865c29df8d3973cefe8430653ba7fea85bd386e24e522601c30227: write /var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/86/fs/home/notebook-user/.local/lib/python3.10/site-packages/numpy/linalg/__pycache__/linalg.cpython-310.pyc: no space left on device: unknown";
// hackoregon/civic-devops#132 (devicemapper on EC2).
const PULL_THIN_POOL: &str = "CannotPullContainerError: failed to register layer: devmapper: Thin Pool has 4446 free data blocks which is less than minimum required 4454 free data blocks. Create more free space in thin pool or use dm.min_free_space option to change behavior";
// doctorray117/minecraft-ondemand#74; repost.aws knowledge-center "ecs-unable-to-pull-secrets".
const SECRETS_IO_TIMEOUT: &str = "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve ecr registry auth: service call has been retried 3 time(s): RequestError: send request failed caused by: Post \"https://api.ecr.us-east-1.amazonaws.com/\": dial tcp 52.46.130.1:443: i/o timeout. Please check your task network configuration.";
// umotif-public/terraform-aws-ecs-fargate#50 (truncated by Fargate).
const SECRETS_DEADLINE: &str = "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secrets from ssm: service call has been retried 5 time(s): RequestCanceled: request context canceled caused by: context deadli...";
// aws/copilot-cli#4504.
const SECRETS_SSM_DENIED: &str = "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secrets from ssm: service call has been retried 1 time(s): AccessDeniedException: User: arn:aws:sts::111122223333:assumed-role/demo-app-ExecutionRole-28VBAJL3T0YT/f83b93a4dc3442a18eaaf8c2a235cd37 is not authorized to perform: ssm:GetParameters on resource: arn:aws:ssm:eu-west-2:111122223333:parameter/GOOGLE_CLIENT_ID because no identity-based policy allows the ssm:GetParameters action status code: 400";
// GiamPy5/terraform-aws-directus#10.
const SECRETS_KMS: &str = "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch secret arn:aws:secretsmanager:eu-central-1:111122223333:secret:directus-EaPYTy from secrets manager: AccessDeniedException: Access to KMS is not allowed status code: 400";
// HHS/simpler-grants-gov PR #4330.
const SECRETS_SSM_MISSING: &str = "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secrets from ssm: service call has been retried 1 time(s): invalid ssm parameters: /api//new-relic-license-key";
// repost.aws knowledge-center "ecs-unable-to-pull-secrets".
const SECRETS_BAD_VERSION: &str = "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch secret arn:aws:secretsmanager:us-east-1:111122223333:secret:db from secrets manager: InvalidParameter: 1 validation error(s) found. - minimum field size of 32, GetSecretValueInput.VersionId.";
// repost.aws knowledge-center "ecs-unable-to-pull-secrets" (cause not in the text).
const SECRETS_SIGNAL_KILLED: &str = "ResourceInitializationError: unable to pull secrets or registry auth: pull command failed: : signal: killed";
// cn-terraform/terraform-aws-ecs-fargate-task-definition#1.
const LOG_GROUP_MISSING: &str = "CannotStartContainerError: Error response from daemon: failed to initialize logging driver: failed to create Cloudwatch log stream: ResourceNotFoundException: The specified log group does not exist. status code: 400, request id: 7463029c-9f12-4e3f-b914-f";
// civiform/civiform#7648: "cannot find" wording, but the cause was a network block.
const LOG_GROUP_UNREACHABLE: &str = "ResourceInitializationError: failed to validate logger args: The task cannot find the Amazon CloudWatch log group defined in the task definition. There is a connection issue between the task and Amazon CloudWatch. Check your network configuration. : signal: killed";
// docker-archive/compose-cli#1490 (random; the next launch worked).
const EFS_RESET: &str = "ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes: stderr: mount.nfs4: Connection reset by peer : unsuccessful EFS utils command execution; code: 32";
// acp-io/terraform-grafana#4.
const EFS_NO_PATH: &str = "ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes: stderr: b'mount.nfs4: mounting fs-0123456789.efs.us-east-1.amazonaws.com:/grafana failed, reason given by server: No such file or directory' : unsuccessful EFS utils command execution; code: 32";
// aws/containers-roadmap#1425.
const VOLUME_DEADLINE: &str = "CannotCreateVolumeError: unable to copy contents to volume on host: containerd: failed to get image reference: context deadline exceeded";
// ECS user guide, stopped-task-error-codes (the agent marks it retriable).
const RUNTIME_TIMEOUT: &str = "ContainerRuntimeTimeoutError: Could not transition to running; timed out after waiting 1m: context deadline exceeded";
// rstudio/r-builds PR #140.
const DOCKER_TIMEOUT: &str =
    "DockerTimeoutError: Could not transition to created; timed out after waiting 4m0s";
// aws/amazon-ecs-agent#336.
const INSPECT_TIMEOUT: &str =
    "CannotInspectContainerError: Could not transition to inspecting; timed out after waiting 30s";
// aws/amazon-ecs-cli#194.
const CREATE_UNTAR: &str = "CannotCreateContainerError: API error (500): Untar";
// aws/amazon-ecs-cli#78.
const EXEC_NOT_FOUND: &str = "CannotStartContainerError: API error (500): Cannot start container 54b6caa1f3d8476a7b3538827d4d5017596d696b0877925d1d28a9de735b2433: [8] System error: exec: \"node index.js -t sockets_transport -i 0\": executable file not found in $PATH";
// aws/amazon-ecs-agent#2954 (truncated by Fargate).
const EXEC_NO_SUCH_FILE: &str = "CannotStartContainerError: ResourceInitializationError: failed to create new container runtime task: OCI runtime create failed: container_linux.go:370: starting container process caused: exec: \"/opt/sonarqube/bin/run.sh\": stat /opt/sonarqube/bin/run.sh...no such file or direct...";
// aws/amazon-ecs-agent agent/dockerclient/dockerapi/errors.go.
const OOM: &str = "OutOfMemoryError: Container killed due to memory usage";
// nasa/cumulus-api#209.
const CREATE_THIN_POOL: &str = "CannotCreateContainerError: API error (500): devmapper: Thin Pool has 0 free data blocks which is less than minimum required 20253 free data blocks. Create more free space in thin pool or use dm.min_free_space option to change behavior";
// apache/airflow#15000; dagster-io/dagster ecs/utils.py.
const ENI_TIMEOUT: &str = "Timeout waiting for network interface provisioning to complete.";
// AWS Batch retry strategies on Fargate (terraform-provider-aws tests).
const ENI_PROVISION_ERROR: &str =
    "Network interface provision complete error timeout wait for network interface provision.";
const ENI_RATE_LIMIT: &str =
    "Rate limit exceeded while preparing network interface to be attached to instance";
// dagster-io/dagster PR #17234.
const EPHEMERAL_TIMEOUT: &str = "Timeout waiting for EphemeralStorage provisioning to complete.";
// repost.aws knowledge-center "ecs-fargate-runtask-capacity".
const CAPACITY: &str = "Capacity is unavailable at this time. Please try again later or in a different availability zone";
// dagster-io/dagster ecs/utils.py.
const SERVICE_DISCOVERY: &str = "The Service Discovery instance could not be registered";
// reproio/wrapbox PR #53; nextflow-io/nextflow#5786.
const SPOT: &str = "Your Spot Task was interrupted.";
// apache/airflow amazon provider operators/ecs.py; incident logs.
const HOST_TERMINATED: &str = "Host EC2 (instance i-04b17daec78ef4a0b) terminated.";
const HOST_STOPPED: &str = "Host EC2 (instance i-06aab15feb4568492) stopped.";
// ECS developer guide, stopped-task-errors.md.
const DEREGISTERED: &str = "Container instance deregistration forced by user";
// ECS user guide, task-maintenance.html.
const MAINTENANCE: &str =
    "ECS is performing maintenance on the underlying infrastructure hosting the task";
// aws-solutions/distributed-load-testing-on-aws#82.
const USER_STOP: &str = "Task stopped by user";
// ECS developer guide, stopped-task-errors.md.
const SCALING: &str = "Scaling activity initiated by (deployment ecs-svc/9223370555039069146)";

#[test]
fn stopped_task_table() {
    use Action::*;
    #[rustfmt::skip]
    let cases: &[(&str, Option<&str>, Option<&str>, &[C], &str, Action)] = &[
        // (name, stopCode, stoppedReason, containers, rule id, action) — default policy, every container essential.
        ("all exited 0",                  ECE, EXITED, &[("app", Some(0), None)], SUCCESS_RULE_ID, Succeed),
        ("no stop code, exited 0",        None, EXITED, &[("app", Some(0), None)], SUCCESS_RULE_ID, Succeed),
        ("app exit 1",                    ECE, EXITED, &[("app", Some(1), None)], "application-exit-nonzero", RetryLater),
        ("app exit 137, no reason",       ECE, EXITED, &[("app", Some(137), None)], "application-exit-nonzero", RetryLater),
        ("out of memory",                 ECE, EXITED, &[("app", Some(137), Some(OOM))], "out-of-memory", Fail),
        ("OOM in the stopped reason",     ECE, Some(OOM), &[("app", Some(137), None)], "out-of-memory", Fail),
        ("spot by code",                  Some("SpotInterruption"), Some(SPOT), &[("app", Some(143), None)], "spot-interruption", RetryNow),
        ("spot, app exited 0 on SIGTERM", Some("SpotInterruption"), Some(SPOT), &[("app", Some(0), None)], "spot-interruption", RetryNow),
        ("spot by reason only",           Some("TerminationNotice"), Some(SPOT), &[("app", Some(143), None)], "spot-interruption", RetryNow),
        ("host terminated",               Some("TerminationNotice"), Some(HOST_TERMINATED), &[("app", Some(137), None)], "host-lost", RetryNow),
        ("host stopped",                  ECE, Some(HOST_STOPPED), &[("app", Some(137), None)], "host-lost", RetryNow),
        ("instance deregistered",         None, Some(DEREGISTERED), &[("app", None, None)], "host-lost", RetryNow),
        ("termination notice only",       Some("TerminationNotice"), None, &[("app", Some(143), None)], "termination-notice", RetryNow),
        ("fargate maintenance",           None, Some(MAINTENANCE), &[("app", Some(143), None)], "platform-maintenance", RetryNow),
        ("infrastructure health code",    Some("InfrastructureHealth"), None, &[("app", Some(143), None)], "platform-maintenance", RetryNow),
        ("user stop",                     Some("UserInitiated"), Some(USER_STOP), &[("app", Some(143), None)], "stopped-on-purpose", Fail),
        ("user stop, app exited 0",       Some("UserInitiated"), Some(USER_STOP), &[("app", Some(0), None)], "stopped-on-purpose", Fail),
        ("service scaled in",             Some("ServiceSchedulerInitiated"), Some(SCALING), &[("app", Some(143), None)], "stopped-on-purpose", Fail),
        ("docker hub rate limit",         F2S, Some(PULL_RATE_LIMIT), &[("app", None, Some(PULL_RATE_LIMIT))], "image-pull-rate-limited", RetryLater),
        ("ecr auth throttled",            F2S, EXITED, &[("app", None, Some(ECR_THROTTLED))], "image-pull-rate-limited", RetryLater),
        ("pull i/o timeout",              F2S, Some(PULL_IO_TIMEOUT), &[("app", None, None)], "network-timeout", RetryLater),
        ("pull request canceled",         F2S, EXITED, &[("app", None, Some(PULL_REQUEST_CANCELED))], "network-timeout", RetryLater),
        ("pull connection issue (2024)",  F2S, Some(PULL_CONNECTION_ISSUE), &[("app", None, None)], "network-timeout", RetryLater),
        ("registry 503",                  F2S, Some(PULL_503), &[("app", None, None)], "registry-unavailable", RetryLater),
        ("no registry endpoint",          F2S, Some(PULL_NO_ENDPOINT), &[("app", None, None)], "network-timeout", RetryLater),
        ("repository not found",          ECE, EXITED, &[("app", None, Some(PULL_REPO_404))], "image-not-found", Fail),
        ("manifest unknown",              F2S, Some(PULL_MANIFEST_UNKNOWN), &[("app", None, None)], "image-not-found", Fail),
        ("pinned digest gone",            F2S, Some(PULL_DIGEST_GONE), &[("app", None, None)], "image-not-found", Fail),
        ("blob 403",                      F2S, Some(PULL_BLOB_403), &[("app", None, None)], "access-denied", Fail),
        ("invalid reference format",      F2S, Some(PULL_BAD_REFERENCE), &[("app", None, None)], "image-not-found", Fail),
        ("no manifest for the platform",  F2S, Some(PULL_NO_MATCHING_MANIFEST), &[("app", None, None)], "image-platform-mismatch", Fail),
        ("pull access denied",            F2S, EXITED, &[("app", None, Some(PULL_ACCESS_DENIED))], "access-denied", Fail),
        ("registry 403",                  F2S, Some(PULL_403), &[("app", None, None)], "access-denied", Fail),
        ("registry 401",                  F2S, Some(PULL_401), &[("app", None, None)], "access-denied", Fail),
        ("resolve ref, cause cut off",    F2S, Some(PULL_RESOLVE_REF), &[("app", None, None)], "image-pull-failed", RetryLater),
        ("EC2 host disk full",            F2S, EXITED, &[("app", None, Some(PULL_HOST_DISK))], "host-disk-full", RetryLater),
        ("thin pool full",                F2S, EXITED, &[("app", None, Some(PULL_THIN_POOL))], "host-disk-full", RetryLater),
        ("create: thin pool full",        F2S, EXITED, &[("app", None, Some(CREATE_THIN_POOL))], "host-disk-full", RetryLater),
        ("secrets: ECR auth i/o timeout", F2S, Some(SECRETS_IO_TIMEOUT), &[("app", None, None)], "network-timeout", RetryLater),
        ("secrets: deadline (truncated)", F2S, Some(SECRETS_DEADLINE), &[("app", None, None)], "network-timeout", RetryLater),
        ("secrets: SSM access denied",    F2S, Some(SECRETS_SSM_DENIED), &[("app", None, None)], "access-denied", Fail),
        ("secrets: KMS not allowed",      F2S, Some(SECRETS_KMS), &[("app", None, None)], "access-denied", Fail),
        ("secrets: parameter missing",    F2S, Some(SECRETS_SSM_MISSING), &[("app", None, None)], "secret-not-found", Fail),
        ("secrets: bad version id",       F2S, Some(SECRETS_BAD_VERSION), &[("app", None, None)], "secret-not-found", Fail),
        ("secrets: killed, no cause",     F2S, Some(SECRETS_SIGNAL_KILLED), &[("app", None, None)], "resource-initialization-failed", RetryLater),
        ("log group missing",             F2S, EXITED, &[("app", None, Some(LOG_GROUP_MISSING))], "log-group-missing", Fail),
        ("log group unreachable",         F2S, Some(LOG_GROUP_UNREACHABLE), &[("app", None, None)], "network-timeout", RetryLater),
        ("EFS connection reset",          F2S, Some(EFS_RESET), &[("app", None, None)], "efs-mount", RetryLater),
        ("EFS path missing",              F2S, Some(EFS_NO_PATH), &[("app", None, None)], "efs-path-missing", Fail),
        ("volume copy deadline",          F2S, Some(VOLUME_DEADLINE), &[("app", None, None)], "network-timeout", RetryLater),
        ("runtime timeout",               F2S, EXITED, &[("app", None, Some(RUNTIME_TIMEOUT))], "network-timeout", RetryLater),
        ("docker timeout",                F2S, EXITED, &[("app", None, Some(DOCKER_TIMEOUT))], "container-runtime-error", RetryLater),
        ("inspect timeout",               ECE, EXITED, &[("app", None, Some(INSPECT_TIMEOUT))], "container-runtime-error", RetryLater),
        ("create untar",                  F2S, Some(CREATE_UNTAR), &[("app", None, None)], "container-runtime-error", RetryLater),
        ("service discovery",             F2S, Some(SERVICE_DISCOVERY), &[("app", None, None)], "container-runtime-error", RetryLater),
        ("executable not found",          F2S, EXITED, &[("app", None, Some(EXEC_NOT_FOUND))], "entrypoint-invalid", Fail),
        ("no such file (truncated)",      F2S, EXITED, &[("app", None, Some(EXEC_NO_SUCH_FILE))], "entrypoint-invalid", Fail),
        ("ENI timeout",                   F2S, Some(ENI_TIMEOUT), &[("app", None, None)], "eni-provisioning", RetryLater),
        ("ENI provision error",           F2S, Some(ENI_PROVISION_ERROR), &[("app", None, None)], "eni-provisioning", RetryLater),
        ("ENI rate limited",              F2S, Some(ENI_RATE_LIMIT), &[("app", None, None)], "eni-provisioning", RetryLater),
        ("ephemeral storage timeout",     F2S, Some(EPHEMERAL_TIMEOUT), &[("app", None, None)], "ephemeral-storage-provisioning", RetryLater),
        ("capacity unavailable",          F2S, Some(CAPACITY), &[("app", None, None)], "capacity-unavailable", RetryLater),
        ("attestation, not an image",     F2S, Some(PULL_IN_TOTO), &[("app", None, None)], "image-format-unsupported", Fail),
        ("a Dockerfile as the image",     F2S, Some(NORMALIZE_DOCKERFILE), &[("app", None, None)], "image-format-unsupported", Fail),
        ("logger: region wrong",          F2S, Some(LOGGER_MISSING_ENDPOINT), &[("app", None, None)], "log-config-invalid", Fail),
        ("firelens: no log options",      F2S, None, &[("app", None, Some(FIRELENS_NO_LOG_CONFIG))], "log-config-invalid", Fail),
        ("secret is not JSON",            F2S, Some(SECRET_NOT_JSON), &[("app", None, None)], "secret-unreadable", Fail),
        ("EFS access denied",             F2S, Some(EFS_ACCESS_DENIED), &[("app", None, None)], "efs-access-denied", Fail),
        ("ENI tag refused",               F2S, Some(ENI_TAG_REFUSED), &[("app", None, None)], "eni-refused-by-policy", Fail),
        ("OOM while starting",            F2S, None, &[("app", None, Some(INIT_OOM_KILLED))], "out-of-memory-at-start", Fail),
        ("mknod refused",                 F2S, Some(MKNOD_524), &[("app", None, None)], "container-config-invalid", Fail),
        ("volume name invalid",           F2S, None, &[("nginx", None, Some(VOLUME_NAME_INVALID))], "container-config-invalid", Fail),
        ("layer cannot be applied",       F2S, None, &[("app", None, Some(APPLY_LAYER))], "image-layers-unusable", Fail),
        ("command not found (127)",       ECE, EXITED, &[("app", Some(127), None)], "command-not-runnable", Fail),
        ("not executable (126)",          ECE, EXITED, &[("app", Some(126), None)], "command-not-runnable", Fail),
        ("failed to start, no reason",    F2S, None, &[("app", None, None)], "failed-to-start", RetryLater),
        ("failed to start, odd reason",   F2S, Some("Something new went wrong"), &[("app", None, None)], "failed-to-start", RetryLater),
        ("unknown stop code, exit 0",     Some("QuantumFluctuation"), Some("?"), &[("app", Some(0), None)], "unrecognised-stop", RetryLater),
        ("unknown stop code, exit 2",     Some("QuantumFluctuation"), None, &[("app", Some(2), None)], "application-exit-nonzero", RetryLater),
        ("no containers at all",          ECE, EXITED, &[], "unrecognised-stop", RetryLater),
        ("case differs from ours",        ECE, EXITED, &[("app", Some(137), Some("outofmemoryerror: container killed due to memory usage"))], "out-of-memory", Fail),
    ];
    for &(name, code, reason, containers, rule_id, action) in cases {
        let t = task(code, reason, containers, "EC2");
        let v = judge_stopped_task(&t, &RetryPolicy::default(), None);
        assert_eq!(
            (v.rule_id.as_str(), v.action),
            (rule_id, action),
            "case {name:?}: {v:?}"
        );
        assert!(!v.evidence.is_empty(), "case {name:?}: no evidence");
    }
}

#[test]
fn fargate_disk_full_is_the_tasks_own() {
    let on = |launch: &str| {
        let t = task(F2S, Some(PULL_FARGATE_DISK), &[("app", None, None)], launch);
        judge_stopped_task(&t, &RetryPolicy::default(), None).rule_id
    };
    assert_eq!(on("FARGATE"), "fargate-disk-full");
    assert_eq!(on("EC2"), "host-disk-full");
    let mut spot = task(F2S, Some(PULL_FARGATE_DISK), &[("app", None, None)], "EC2");
    (spot.launch_type, spot.capacity_provider_name) = (None, Some("FARGATE_SPOT".into()));
    assert_eq!(
        judge_stopped_task(&spot, &RetryPolicy::default(), None).rule_id,
        "fargate-disk-full"
    );
}

#[test]
fn success_is_judged_by_the_essential_containers() {
    let essential = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    #[rustfmt::skip]
    let cases: &[(&[C], Option<&[&str]>, &str)] = &[
        // A sidecar killed with 137 after the main container exited 0: not a failure.
        (&[("app", Some(0), None), ("log-router", Some(137), None)], Some(&["app"]), SUCCESS_RULE_ID),
        // …unless nothing says which container matters: then every container counts.
        (&[("app", Some(0), None), ("log-router", Some(137), None)], None, "application-exit-nonzero"),
        // The main container failed while the sidecar was fine.
        (&[("app", Some(1), None), ("log-router", Some(0), None)], Some(&["app"]), "application-exit-nonzero"),
        // A sidecar that ran out of memory does not fail a run whose main container succeeded.
        (&[("app", Some(0), None), ("envoy", Some(137), Some(OOM))], Some(&["app"]), SUCCESS_RULE_ID),
        // The main container's OOM is seen even when the sidecar's reason comes first.
        (&[("envoy", Some(143), Some("CannotStopContainerError: x")), ("app", Some(137), Some(OOM))], Some(&["app"]), "out-of-memory"),
        // Two essential containers: both must exit 0.
        (&[("app", Some(0), None), ("worker", Some(2), None)], Some(&["app", "worker"]), "application-exit-nonzero"),
        // A named container that is not in the task is ignored; if none is, every container counts.
        (&[("app", Some(0), None)], Some(&["ghost"]), SUCCESS_RULE_ID),
        (&[("app", Some(0), None), ("log-router", Some(1), None)], Some(&["ghost"]), "application-exit-nonzero"),
    ];
    for (i, &(containers, names, rule_id)) in cases.iter().enumerate() {
        let t = task(ECE, EXITED, containers, "FARGATE");
        let names = names.map(essential);
        let v = judge_stopped_task(&t, &RetryPolicy::default(), names.as_deref());
        assert_eq!(v.rule_id, rule_id, "case {i}: {v:?}");
    }
}

fn policy_with(rules: serde_json::Value) -> RetryPolicy {
    crate::job::retry_policy_from_value(serde_json::json!({ "rules": rules })).unwrap()
}

#[test]
fn job_rules_come_before_the_built_ins() {
    use serde_json::json;
    use Action::*;
    #[rustfmt::skip]
    let cases: &[(serde_json::Value, Option<&str>, Option<&str>, &[C], &str, Action)] = &[
        // (rules, stopCode, stoppedReason, containers, rule id, action)
        (json!([{"onExitCode": "2", "action": "RETRY_NOW"}]), ECE, EXITED, &[("app", Some(2), None)], "retry.rules[0]", RetryNow),
        (json!([{"onExitCode": "2", "action": "RETRY_NOW"}]), ECE, EXITED, &[("app", Some(1), None)], "application-exit-nonzero", RetryLater),
        (json!([{"onExitCode": "7*", "action": "FAIL"}]), ECE, EXITED, &[("app", Some(78), None)], "retry.rules[0]", Fail),
        // A job that knows its image is flaky overrides the built-in FAIL for "not found".
        (json!([{"onStatusReason": "CannotPullContainerError*", "action": "RETRY_LATER"}]), F2S, Some(PULL_MANIFEST_UNKNOWN), &[("app", None, None)], "retry.rules[0]", RetryLater),
        // One that never wants Spot retries.
        (json!([{"onStopCode": "SpotInterruption", "action": "FAIL"}]), Some("SpotInterruption"), Some(SPOT), &[("app", Some(143), None)], "retry.rules[0]", Fail),
        (json!([{"onStopCode": "Infra*", "action": "FAIL"}]), Some("InfrastructureHealth"), None, &[("app", Some(143), None)], "retry.rules[0]", Fail),
        (json!([{"onReason": "OutOfMemoryError*", "action": "RETRY_LATER"}]), ECE, EXITED, &[("app", Some(137), Some(OOM))], "retry.rules[0]", RetryLater),
        // Glob matching is case-sensitive in job rules, as in AWS Batch.
        (json!([{"onReason": "outofmemoryerror*", "action": "RETRY_LATER"}]), ECE, EXITED, &[("app", Some(137), Some(OOM))], "out-of-memory", Fail),
        // First match wins.
        (json!([{"onExitCode": "*", "action": "FAIL"}, {"onExitCode": "2", "action": "RETRY_NOW"}]), ECE, EXITED, &[("app", Some(2), None)], "retry.rules[0]", Fail),
        // All conditions of a rule must hold.
        (json!([{"onExitCode": "2", "onStatusReason": "Nope*", "action": "FAIL"}]), ECE, EXITED, &[("app", Some(2), None)], "application-exit-nonzero", RetryLater),
        // "Exit 3 means nothing to do" turns a failure into success…
        (json!([{"onExitCode": "3", "action": "SUCCEED"}]), ECE, EXITED, &[("app", Some(3), None), ("worker", Some(0), None)], "retry.rules[0]", Succeed),
        // …but does not hide another essential container's crash.
        (json!([{"onExitCode": "3", "action": "SUCCEED"}]), ECE, EXITED, &[("app", Some(3), None), ("worker", Some(1), None)], "application-exit-nonzero", RetryLater),
        // `container` restricts the rule, essential or not.
        (json!([{"onExitCode": "1", "container": "worker", "action": "FAIL"}]), ECE, EXITED, &[("app", Some(1), None), ("worker", Some(0), None)], "application-exit-nonzero", RetryLater),
        (json!([{"onExitCode": "1", "container": "worker", "action": "FAIL"}]), ECE, EXITED, &[("app", Some(0), None), ("worker", Some(1), None)], "retry.rules[0]", Fail),
        // Exit-code rules never match a container that has no exit code.
        (json!([{"onExitCode": "*", "action": "FAIL"}]), F2S, Some(ENI_TIMEOUT), &[("app", None, None)], "eni-provisioning", RetryLater),
        // Rules do not judge a clean success.
        (json!([{"onStatusReason": "*", "action": "FAIL"}]), ECE, EXITED, &[("app", Some(0), None)], SUCCESS_RULE_ID, Succeed),
    ];
    for (i, (rules, code, reason, containers, rule_id, action)) in cases.iter().enumerate() {
        let t = task(*code, *reason, containers, "FARGATE");
        let v = judge_stopped_task(&t, &policy_with(rules.clone()), None);
        assert_eq!(
            (v.rule_id.as_str(), v.action),
            (*rule_id, *action),
            "case {i}: {v:?}"
        );
    }
}

#[test]
fn launch_table() {
    use Action::*;
    let failure = |reason: &str| {
        vec![LaunchFailure {
            arn: Some("arn:aws:ecs:us-east-1:111122223333:container-instance/jobs/8e0f".into()),
            reason: reason.into(),
            detail: None,
        }]
    };
    #[rustfmt::skip]
    let failures: &[(&str, &str, Action)] = &[
        // ECS developer guide, api_failures_messages.md.
        ("RESOURCE:MEMORY", "launch-no-instance-resources", RetryLater),
        ("RESOURCE:CPU", "launch-no-instance-resources", RetryLater),
        ("RESOURCE:ENI", "launch-no-instance-resources", RetryLater),
        ("RESOURCE:GPU", "launch-no-instance-resources", RetryLater),
        ("AGENT", "launch-agent-unavailable", RetryLater),
        ("MISSING", "launch-instance-gone", RetryLater),
        ("INACTIVE", "launch-instance-gone", RetryLater),
        ("ATTRIBUTE", "launch-placement-impossible", Fail),
        ("LOCATION", "launch-placement-impossible", Fail),
        // repost.aws knowledge-center "ecs-fargate-runtask-capacity".
        (CAPACITY, "launch-capacity-unavailable", RetryLater),
        // wellcomecollection/platform#3875.
        ("You've reached the limit on the number of tasks you can run concurrently. For more information, see the Troubleshooting section.", "launch-concurrency-limit", RetryLater),
        ("SOMETHING_NEW", "launch-failed", RetryLater),
    ];
    for &(reason, rule_id, action) in failures {
        let f = failure(reason);
        let v = judge_launch(LaunchProblem::Failures(&f));
        assert_eq!(
            (v.rule_id.as_str(), v.action),
            (rule_id, action),
            "failure {reason:?}"
        );
    }
    #[rustfmt::skip]
    let errors: &[(&str, &str, &str, Action)] = &[
        // AllenInstitute/neuron_morphology#151.
        ("ThrottlingException", "Rate exceeded", "launch-throttled", RetryLater),
        // dagster-io/dagster#33439: EC2's throttling, wrapped by ECS in a "permanent-looking" code.
        ("InvalidParameterException", "Error retrieving subnet information for [subnet-0a1b2c3d]: Rate exceeded (ErrorCode: Throttling)", "launch-throttled", RetryLater),
        // dask/dask-cloudprovider#56.
        ("InvalidParameterException", "Error retrieving security group information for [sg-05937427457b61ff5]: Request limit exceeded. (ErrorCode: RequestLimitExceeded)", "launch-throttled", RetryLater),
        // repost.aws knowledge-center "ecs-fargate-runtask-capacity".
        ("ClientException", CAPACITY, "launch-capacity-unavailable", RetryLater),
        // dask/dask-cloudprovider PR #300.
        ("ClientException", "The requested CPU configuration is above your limit", "launch-quota-exceeded", Fail),
        // RunTask API reference (error descriptions).
        ("AccessDeniedException", "You don't have authorization to perform the requested action.", "launch-access-denied", Fail),
        ("ClientException", "User: arn:aws:sts::111122223333:assumed-role/starter/x is not authorized to perform: iam:PassRole on resource: arn:aws:iam::111122223333:role/report-task", "launch-access-denied", Fail),
        ("ClusterNotFoundException", "Cluster not found.", "launch-cluster-not-found", Fail),
        ("PlatformUnknownException", "The specified platform version does not exist.", "launch-platform-invalid", Fail),
        ("PlatformTaskDefinitionIncompatibilityException", "The specified platform version does not satisfy the task definition's required capabilities.", "launch-platform-invalid", Fail),
        ("UnsupportedFeatureException", "The specified task is not supported in this Region.", "launch-platform-invalid", Fail),
        ("BlockedException", "Your Amazon Web Services account was blocked.", "launch-blocked", Fail),
        ("ConflictException", "The request could not be processed because of conflict in the current state of the resource.", "launch-token-conflict", Fail),
        ("ServerException", "These errors are usually caused by a server issue.", "launch-server-error", RetryLater),
        // DefangLabs/defang PR #775.
        ("InvalidParameterException", "TaskDefinition is inactive", "launch-invalid-request", Fail),
        // aws-solutions/cost-optimizer-for-amazon-workspaces#13.
        ("InvalidParameterException", "Unable to assume the service linked role. Please verify that the ECS service linked role exists.", "launch-invalid-request", Fail),
        ("SomethingNewException", "who knows", "launch-failed", RetryLater),
    ];
    for &(code, message, rule_id, action) in errors {
        let v = judge_launch(LaunchProblem::ApiError { code, message });
        assert_eq!(
            (v.rule_id.as_str(), v.action),
            (rule_id, action),
            "error {code}: {message}"
        );
    }
    assert_eq!(
        judge_launch(LaunchProblem::Failures(&[])).rule_id,
        "launch-failed"
    );
}

#[test]
fn every_builtin_rule_has_a_case() {
    // The ids the tables above expect; kept in sync by hand, checked here against the rule tables.
    let source = include_str!("tests.rs");
    let missing: BTreeSet<&str> = STOPPED_TASK_RULES
        .iter()
        .map(|r| r.id)
        .chain(LAUNCH_RULES.iter().map(|r| r.id))
        .filter(|id| !source.contains(&format!("\"{id}\"")))
        .collect();
    assert!(
        missing.is_empty(),
        "built-in rules without a case in this file: {missing:?}"
    );
}

#[test]
fn rule_ids_are_unique_and_every_table_ends_with_a_catch_all() {
    let mut seen = BTreeSet::new();
    for id in STOPPED_TASK_RULES
        .iter()
        .map(|r| r.id)
        .chain(LAUNCH_RULES.iter().map(|r| r.id))
    {
        assert!(seen.insert(id), "duplicate rule id {id}");
    }
    assert!(matches!(
        STOPPED_TASK_RULES.last().map(|r| r.matcher),
        Some(crate::builtin::Matcher::Anything)
    ));
    assert!(matches!(
        LAUNCH_RULES.last().map(|r| r.matchers),
        Some([crate::builtin::LaunchMatcher::AnyProblem])
    ));
}

fn verdict(action: Action, disruption: bool) -> Verdict {
    Verdict {
        action,
        rule_id: "r".into(),
        rule: "the rule".into(),
        evidence: "e".into(),
        disruption,
        hint: None,
        memory: None,
    }
}

#[test]
fn decide_table() {
    use Action::*;
    let policy = RetryPolicy {
        max_attempts: 3,
        max_disruptions: 2,
        jitter: Jitter::None,
        ..Default::default()
    };
    #[rustfmt::skip]
    let cases: &[(Action, bool, u32, u32, Action, &str, bool, Option<u32>, Option<u32>)] = &[
        // (verdict, disruption, attempt, disruptions so far) → (action, rule id, counts, delay, next attempt)
        (Succeed,    false, 1, 0, Succeed,    "r",                true,  None,      None),
        (Fail,       false, 1, 0, Fail,       "r",                true,  None,      None),
        (RetryLater, false, 1, 0, RetryLater, "r",                true,  Some(30),  Some(2)),
        (RetryLater, false, 2, 0, RetryLater, "r",                true,  Some(60),  Some(3)),
        (RetryLater, false, 3, 0, Fail,       EXHAUSTED_RULE_ID,  true,  None,      None),
        (RetryNow,   false, 2, 0, RetryNow,   "r",                true,  None,      Some(3)),
        (RetryNow,   false, 3, 0, Fail,       EXHAUSTED_RULE_ID,  true,  None,      None),
        // Disruptions are free while the allowance lasts, and do not advance the backoff.
        (RetryNow,   true,  1, 0, RetryNow,   "r",                false, None,      Some(2)),
        (RetryNow,   true,  2, 1, RetryNow,   "r",                false, None,      Some(3)),
        (RetryLater, false, 3, 2, RetryLater, "r",                true,  Some(30),  Some(4)),
        // Attempt 5 after two free relaunches is the third counted attempt: the run may still fail for good.
        (RetryLater, false, 5, 2, Fail,       EXHAUSTED_RULE_ID,  true,  None,      None),
        // Past the allowance a disruption counts like any retry…
        (RetryNow,   true,  3, 2, RetryNow,   "r",                true,  None,      Some(4)),
        // …and so a run on a Spot pool that is always reclaimed still ends.
        (RetryNow,   true,  5, 2, Fail,       EXHAUSTED_RULE_ID,  true,  None,      None),
    ];
    for &(action, disruption, attempt, disruptions, want, rule_id, counts, delay, next) in cases {
        let d = decide(
            verdict(action, disruption),
            History {
                attempt,
                disruptions,
                counts_from: 1,
            },
            &policy,
            &mut UpperBound,
        );
        let got = (
            d.action,
            d.rule_id.as_str(),
            d.counts_as_attempt,
            d.delay_seconds,
            d.next_attempt,
        );
        assert_eq!(
            got,
            (want, rule_id, counts, delay, next),
            "{action} disruption={disruption} attempt={attempt}/{disruptions}: {d:?}"
        );
        assert_eq!(d.verdict.action, action, "the verdict is kept as it was");
    }
}

#[test]
fn exhaustion_says_so_and_keeps_the_cause() {
    let policy = RetryPolicy {
        max_attempts: 4,
        ..Default::default()
    };
    let t = task(ECE, EXITED, &[("app", Some(1), None)], "FARGATE");
    let v = judge_stopped_task(&t, &policy, None);
    let d = decide(
        v,
        History {
            attempt: 4,
            disruptions: 0,
            counts_from: 1,
        },
        &policy,
        &mut UpperBound,
    );
    assert_eq!(d.action, Action::Fail);
    assert_eq!(d.rule_id, EXHAUSTED_RULE_ID);
    assert!(
        d.rule.starts_with(
            "attempts exhausted: 4 of 4 used (the last: an essential container exited"
        ),
        "{}",
        d.rule
    );
    assert_eq!(d.verdict.rule_id, "application-exit-nonzero");
}

#[test]
fn jitter_comes_from_the_injected_source() {
    let policy = RetryPolicy {
        jitter: Jitter::Full,
        ..Default::default()
    };
    let delays: Vec<u32> = (0..50)
        .map(|seed| {
            decide(
                verdict(Action::RetryLater, false),
                History {
                    attempt: 2,
                    disruptions: 0,
                    counts_from: 1,
                },
                &policy,
                &mut SplitMix64(seed),
            )
            .delay_seconds
            .unwrap()
        })
        .collect();
    assert!(delays.iter().all(|&d| d <= 60));
    assert!(
        delays.iter().collect::<BTreeSet<_>>().len() > 10,
        "full jitter spreads retries: {delays:?}"
    );
    let again = decide(
        verdict(Action::RetryLater, false),
        History {
            attempt: 2,
            disruptions: 0,
            counts_from: 1,
        },
        &policy,
        &mut SplitMix64(7),
    );
    assert_eq!(
        again.delay_seconds,
        Some(delays[7]),
        "same seed, same delay"
    );
}

#[test]
fn counted_attempts_start_again_after_a_redrive() {
    // (attempt, disruptions since counts_from, counts_from) → counted attempts, this one included
    #[rustfmt::skip]
    let cases: &[(u32, u32, u32, u32)] = &[
        (1, 0, 1, 1),
        (3, 0, 1, 3),
        (4, 1, 1, 3),  // one free relaunch
        (4, 0, 4, 1),  // the first attempt after a redrive of a run that failed at attempt 3
        (6, 0, 4, 3),
        (6, 1, 4, 2),  // a disruption after the redrive
        (2, 0, 0, 2),  // counts_from 0 reads as 1 (items written before redrives existed)
    ];
    for &(attempt, disruptions, counts_from, want) in cases {
        let history = History {
            attempt,
            disruptions,
            counts_from,
        };
        assert_eq!(history.counted(), want, "{history:?}");
    }
}

/// Deadlines and memory escalation: (stop code, reason, container reason, launch type, onTimeout,
/// onOutOfMemory (multiplier, max)) → (action, rule id, next memory).
#[test]
fn timeouts_and_memory_escalation() {
    use Action::*;
    let timeout = "ecs-reactor timeout: attempt 1 of run r ran longer than timeoutSeconds 60";
    let run_timeout = "ecs-reactor run timeout: run r ran longer than runTimeoutSeconds 600";
    let oom = Some("OutOfMemoryError: Container killed due to memory usage");
    let user = Some("UserInitiated");
    let exited = Some("EssentialContainerExited");
    #[rustfmt::skip]
    let cases: Vec<(Option<&str>, Option<&str>, Option<&str>, &str, Option<Action>, Option<(f64, u32)>, (Action, &str, Option<u32>))> = vec![
        (user, Some(timeout), None, "FARGATE", None, None, (Fail, "timeout", None)),
        (user, Some(timeout), None, "FARGATE", Some(RetryLater), None, (RetryLater, "timeout", None)),
        (user, Some(timeout), None, "FARGATE", Some(RetryNow), None, (RetryNow, "timeout", None)),
        // The run's deadline is final whatever onTimeout says.
        (user, Some(run_timeout), None, "FARGATE", Some(RetryNow), None, (Fail, "run-timeout", None)),
        // Someone's own StopTask stays a stop on purpose.
        (user, Some("Task stopped by user"), None, "FARGATE", Some(RetryNow), None, (Fail, "stopped-on-purpose", None)),
        // OOM: FAIL without onOutOfMemory; with it, the next Fargate size (1 vCPU, 2 GB → ×2 = 4 GB).
        (exited, None, oom, "FARGATE", None, None, (Fail, "out-of-memory", None)),
        (exited, None, oom, "FARGATE", None, Some((2.0, 8192)), (RetryNow, "out-of-memory-more-memory", Some(4096))),
        (exited, None, oom, "FARGATE", None, Some((1.5, 8192)), (RetryNow, "out-of-memory-more-memory", Some(3072))),
        (exited, None, oom, "EC2", None, Some((1.25, 8192)), (RetryNow, "out-of-memory-more-memory", Some(2560))),
        // At the cap: FAIL as before.
        (exited, None, oom, "FARGATE", None, Some((2.0, 2048)), (Fail, "out-of-memory", None)),
    ];
    for (code, reason, container_reason, launch_type, on_timeout, on_oom, expected) in cases {
        let mut policy = RetryPolicy {
            on_timeout,
            ..RetryPolicy::default()
        };
        policy.on_out_of_memory =
            on_oom.map(
                |(memory_multiplier, max_memory_mib)| crate::memory::MemoryEscalation {
                    memory_multiplier,
                    max_memory_mib,
                },
            );
        let t = task(
            code,
            reason,
            &[("app", Some(137), container_reason)],
            launch_type,
        );
        let v = judge_stopped_task(&t, &policy, None);
        assert_eq!(
            (v.action, v.rule_id.as_str(), v.memory.map(|m| m.memory_mib)),
            expected,
            "{reason:?} {container_reason:?} {launch_type} {on_timeout:?} {on_oom:?}: {}",
            v.rule
        );
    }
}

/// runTimeoutSeconds turns a retry that cannot start in time into FAIL: (action, delay, seconds left) →
/// (action, rule id).
#[test]
fn run_deadline_table() {
    use Action::*;
    #[rustfmt::skip]
    let cases = [
        (RetryLater, Some(30), None, (RetryLater, "r")),
        (RetryLater, Some(30), Some(31), (RetryLater, "r")),
        (RetryLater, Some(30), Some(30), (Fail, "run-timeout")),
        (RetryNow, None, Some(1), (RetryNow, "r")),
        (RetryNow, None, Some(0), (Fail, "run-timeout")),
        (Fail, None, Some(-5), (Fail, "r")),
        (Succeed, None, Some(-5), (Succeed, "r")),
    ];
    for (action, delay_seconds, left, expected) in cases {
        let d = Decision {
            action,
            rule_id: "r".into(),
            rule: "the rule".into(),
            reason: "x".into(),
            counts_as_attempt: true,
            delay_seconds,
            next_attempt: action.is_retry().then_some(2),
            verdict: verdict(action, false),
        };
        let got = within_run_deadline(d, left);
        assert_eq!(
            (got.action, got.rule_id.as_str()),
            expected,
            "{action} {delay_seconds:?} {left:?}"
        );
        assert_eq!(got.next_attempt.is_some(), got.action.is_retry());
    }
}

#[test]
fn a_container_that_exited_0_beside_sidecars_without_exit_codes_is_a_success_only_when_nothing_names_the_essentials(
) {
    #[rustfmt::skip]
    let cases: &[(Option<&str>, &[C], Option<&[&str]>, &str, Action)] = &[
        // stopCode, containers,                                                     essential,        => rule, action
        (ECE, &[("app", Some(0), None), ("envoy", None, None)],                      None,             SUCCESS_BESIDE_SIDECARS_RULE_ID, Action::Succeed),
        (ECE, &[("app", Some(0), None), ("envoy", None, None), ("xray", None, None)], None,            SUCCESS_BESIDE_SIDECARS_RULE_ID, Action::Succeed),
        (ECE, &[("app", Some(0), None), ("envoy", None, None)],                      Some(&["app"]),   SUCCESS_RULE_ID, Action::Succeed),
        // A non-zero exit beside it is not explained away.
        (ECE, &[("app", Some(0), None), ("envoy", Some(137), None)],                 None,             "application-exit-nonzero", Action::RetryLater),
        // Not an essential container's exit: the task failed to start, or nothing exited.
        (F2S, &[("app", Some(0), None), ("envoy", None, None)],                      None,             "failed-to-start", Action::RetryLater),
        (ECE, &[("app", None, None), ("envoy", None, None)],                         None,             "unrecognised-stop", Action::RetryLater),
        // A container with no exit code but a reason had something happen to it.
        (ECE, &[("init", Some(0), None), ("app", None, Some("CannotInspectContainerError: Could not transition to inspecting; timed out after waiting 30s"))], None, "container-runtime-error", Action::RetryLater),
    ];
    for (stop_code, containers, essential, rule, action) in cases {
        let t = task(*stop_code, EXITED, containers, "FARGATE");
        let names: Option<Vec<String>> =
            essential.map(|e| e.iter().map(|s| s.to_string()).collect());
        let verdict = judge_stopped_task(&t, &RetryPolicy::default(), names.as_deref());
        assert_eq!(
            (verdict.rule_id.as_str(), verdict.action),
            (*rule, *action),
            "{containers:?} {essential:?}"
        );
        let first = consider_stopped_task(&t, &RetryPolicy::default(), names.as_deref())
            .into_iter()
            .find(|c| c.matched)
            .map(|c| c.rule_id);
        assert_eq!(first.as_deref(), Some(*rule), "explain's reasoning agrees");
    }
}

#[test]
fn a_vanished_task_is_retried_later_unless_the_job_says_otherwise() {
    use crate::judge::{vanished_task, TASK_VANISHED_RULE_ID};
    let task = vanished_task("arn:aws:ecs:us-east-1:1:task/c/gone");
    let default = judge_stopped_task(&task, &RetryPolicy::default(), None);
    assert_eq!(
        (default.action, default.rule_id.as_str()),
        (Action::RetryLater, TASK_VANISHED_RULE_ID)
    );
    let fail_it = policy_with(
        serde_json::json!([{"onStatusReason": "*no longer knows this task*", "action": "FAIL"}]),
    );
    let overridden = judge_stopped_task(&task, &fail_it, None);
    assert_eq!(
        (overridden.action, overridden.rule_id.as_str()),
        (Action::Fail, "retry.rules[0]")
    );
    // Only the sweep's own words make a vanished task: an ECS reason that merely mentions it does not.
    let lookalike = Task::stopped(
        "arn:t",
        None,
        Some("UserInitiated"),
        Some("Task stopped by user: ECS no longer knows this task"),
        [],
    );
    assert_ne!(
        judge_stopped_task(&lookalike, &RetryPolicy::default(), None).rule_id,
        TASK_VANISHED_RULE_ID
    );
}

#[test]
fn a_task_stopped_at_its_deadline_timed_out_even_when_its_containers_exited_0_on_the_sigterm() {
    use crate::deadline::{stop_reason, Deadline, DeadlineKind};
    let reason = stop_reason(
        &Deadline {
            at: 0,
            kind: DeadlineKind::Attempt,
            limit_seconds: 600,
        },
        "r",
        1,
    );
    #[rustfmt::skip]
    let cases: &[(Option<i32>, &str)] = &[
        (Some(0), TIMEOUT_RULE_ID),   // handled SIGTERM and exited cleanly: the work was not finished
        (Some(143), TIMEOUT_RULE_ID), // killed by the SIGTERM
        (None, TIMEOUT_RULE_ID),      // killed before it reported
    ];
    for (exit, rule) in cases {
        let task = Task::stopped(
            "arn:t",
            None,
            Some("UserInitiated"),
            Some(&reason),
            [("app".to_owned(), *exit, None)],
        );
        let verdict = judge_stopped_task(&task, &RetryPolicy::default(), None);
        assert_eq!(verdict.rule_id, *rule, "exit {exit:?}");
    }
}
