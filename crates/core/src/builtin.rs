//! The built-in rule table: what an experienced ECS operator knows about why tasks stop.
//!
//! Consulted after the job's own rules, in order; the first rule that matches decides. The order matters
//! where reasons overlap: capacity taken away is recognised before anything else, specific sub-causes
//! before their family (`CannotPullContainerError … toomanyrequests` before `CannotPullContainerError`),
//! permanent causes before the network words that often trail them.
//!
//! Patterns are `*` globs matched without regard to ASCII case against the task's `stoppedReason` and the
//! `reason` of each essential container. The README's table "How a stopped task is judged" is printed from
//! this one by `ecs-reactor rules --markdown`, and a test keeps the two equal.

use crate::policy::Action;

/// How a built-in rule recognises its case.
#[derive(Debug, Clone, Copy)]
pub enum Matcher {
    /// The task's stopCode is one of these.
    StopCode(&'static [&'static str]),
    /// The stoppedReason or an essential container's reason matches one of these globs.
    Reason(&'static [&'static str]),
    /// As `Reason`, for a task on Fargate (where some host problems are the task's own).
    ReasonOnFargate(&'static [&'static str]),
    /// Either of the two.
    StopCodeOrReason(&'static [&'static str], &'static [&'static str]),
    /// An essential container exited with one of these codes.
    EssentialExitCode(&'static [i32]),
    /// An essential container exited with a non-zero code and nothing above explained it.
    EssentialExitNonZero,
    /// The task never started (stopCode TaskFailedToStart) and nothing above explained it.
    FailedToStart,
    /// Anything: the last resort.
    Anything,
}

#[derive(Debug, Clone, Copy)]
pub struct BuiltinRule {
    /// Stable identifier, used in logs, in the table and in `explain`'s `ruleId`.
    pub id: &'static str,
    /// What happened, in plain words.
    pub description: &'static str,
    pub matcher: Matcher,
    pub action: Action,
    /// Capacity taken away from a healthy task: relaunched at once without counting as an attempt
    /// (bounded by `retry.maxDisruptions`).
    pub disruption: bool,
    /// What on-call should check if it keeps happening.
    pub hint: &'static str,
    /// A fall-back: the rule knows the family of the error (or nothing at all), not its cause. The same
    /// failure word for word on consecutive attempts stops the retries (`repeated-failure`,
    /// `retry.sameFailureLimit`): a transient cause rarely repeats exactly.
    pub stops_when_repeated: bool,
}

const fn rule(
    id: &'static str,
    description: &'static str,
    matcher: Matcher,
    action: Action,
    hint: &'static str,
) -> BuiltinRule {
    BuiltinRule {
        id,
        description,
        matcher,
        action,
        disruption: false,
        hint,
        stops_when_repeated: false,
    }
}

/// A rule that recognises only the outer error's family (or nothing): retried later, unless the same
/// failure repeats (see [`BuiltinRule::stops_when_repeated`]).
const fn fallback(
    id: &'static str,
    description: &'static str,
    matcher: Matcher,
    hint: &'static str,
) -> BuiltinRule {
    BuiltinRule {
        stops_when_repeated: true,
        ..rule(id, description, matcher, RetryLater, hint)
    }
}

const fn disruption(
    id: &'static str,
    description: &'static str,
    matcher: Matcher,
    hint: &'static str,
) -> BuiltinRule {
    BuiltinRule {
        id,
        description,
        matcher,
        action: Action::RetryNow,
        disruption: true,
        hint,
        stops_when_repeated: false,
    }
}

use Action::{Fail, RetryLater};
use Matcher::*;

/// The rules for a STOPPED task that did not succeed cleanly.
pub const STOPPED_TASK_RULES: &[BuiltinRule] = &[
    // — Capacity taken away: the task was healthy, the platform reclaimed it.
    disruption(
        "spot-interruption",
        "Spot capacity was reclaimed (Fargate Spot or EC2 Spot)",
        StopCodeOrReason(&["SpotInterruption"], &["Your Spot Task was interrupted*"]),
        "frequent interruptions: add on-demand capacity to the capacity provider strategy",
    ),
    disruption(
        "host-lost",
        "the EC2 host running the task was terminated, stopped or deregistered",
        Reason(&[
            "Host EC2 (instance *) terminated*",
            "Host EC2 terminated*",
            "Host EC2 (instance *) stopped*",
            "Container instance deregistration forced by user*",
        ]),
        "check the Auto Scaling group's activity history for why the instance went away",
    ),
    disruption(
        "termination-notice",
        "the capacity under the task received a termination notice",
        StopCode(&["TerminationNotice"]),
        "Spot reclaim or instance termination: check the capacity provider's activity",
    ),
    disruption(
        "platform-maintenance",
        "AWS retired the infrastructure hosting the task (maintenance)",
        StopCodeOrReason(
            &["InfrastructureHealth"],
            &["ECS is performing maintenance on the underlying infrastructure hosting the task*", "*task*retire*"],
        ),
        "nothing to fix; Fargate patches its fleet by replacing tasks",
    ),
    // — Someone stopped it on purpose.
    rule(
        "stopped-on-purpose",
        "someone or something stopped the task on purpose (StopTask, console, CLI, a service scaling in)",
        StopCodeOrReason(
            &["UserInitiated", "ServiceSchedulerInitiated"],
            &["Task stopped by user*", "Scaling activity initiated by*"],
        ),
        Fail,
        "CloudTrail's StopTask event names who; `ecs-reactor redrive` runs the job again",
    ),
    // — Image pull: transient first, then permanent, then the family.
    rule(
        "image-pull-rate-limited",
        "the registry or an AWS API refused the call: rate limit (toomanyrequests, Rate exceeded)",
        Reason(&["*toomanyrequests*", "*too many requests*", "*pull rate limit*", "*rate exceeded*"]),
        RetryLater,
        "pull from ECR (pull-through cache) instead of Docker Hub, or authenticate the pulls",
    ),
    rule(
        "image-platform-mismatch",
        "the image does not fit the task's CPU architecture or OS",
        Reason(&[
            "*no matching manifest*",
            "*does not contain descriptor matching platform*",
            "*image Manifest does not contain descriptor*",
            "*failed to find a descriptor for platform*",
            "*exec format error*",
            "*based image is incompatible with a * host*",
        ]),
        Fail,
        "build the image for the task definition's runtimePlatform (linux/amd64 vs linux/arm64, the Windows version)",
    ),
    rule(
        "image-format-unsupported",
        "the image reference or manifest is of a kind the container runtime cannot use",
        Reason(&[
            "*unsupported media type*",
            "*unknown media type*",
            "*unsupported manifest*",
            "*failed to normalize image reference*",
        ]),
        Fail,
        "point the task definition at a container image (Docker v2 schema 2 or OCI), not an attestation, a signature or a path, and without a URL scheme",
    ),
    rule(
        "access-denied",
        "access denied to the registry, a secret, a parameter or a KMS key",
        Reason(&[
            "*pull access denied*",
            "*AccessDenied*",
            "*not authorized to perform*",
            "*is not authorized*",
            "*403 Forbidden*",
            "*UnrecognizedClientException*",
            "*KMS.*Exception*",
            "*kms:Decrypt*",
            "*unauthorized: authentication required*",
            "*401 Unauthorized*",
            "*failed to authorize*",
            "*requested access to the resource is denied*",
            "*has the permissions to pull images*",
        ]),
        Fail,
        "give the task execution role the permission named in the reason (ecr:*, secretsmanager:GetSecretValue, ssm:GetParameters, kms:Decrypt)",
    ),
    rule(
        "image-not-found",
        "the image or tag does not exist",
        Reason(&[
            "*CannotPullContainerError*not found*",
            "*manifest unknown*",
            "*manifest*does not exist*",
            "*repository does not exist*",
            "*name unknown*",
            "*image*not found*",
            "*invalid reference format*",
            "*digest: not found*",
            "*repository * not found*",
            "*CannotPullContainerError: API error (404)*",
        ]),
        Fail,
        "check the image URI and tag in the task definition; was the tag pushed?",
    ),
    rule(
        "log-group-missing",
        "the task's log group does not exist",
        Reason(&["*log group does not exist*", "*failed to initialize logging driver*ResourceNotFoundException*"]),
        Fail,
        "create the log group or set awslogs-create-group (with logs:CreateLogGroup on the execution role)",
    ),
    rule(
        "log-config-invalid",
        "the container runtime rejected the task's logging configuration",
        Reason(&[
            "*failed to validate logger args*MissingEndpoint*",
            "*failed to validate logger args*invalid*",
            "*but no log configuration specified*",
            "*unknown log opt*",
        ]),
        Fail,
        "fix logConfiguration in the task definition: a real awslogs-region, known option names, and options for every container whose logDriver needs them",
    ),
    rule(
        "secret-not-found",
        "a secret or parameter the task needs does not exist",
        Reason(&[
            "*ResourceNotFoundException*",
            "*ParameterNotFound*",
            "*invalid ssm parameters*",
            "*InvalidParameter: * validation error*",
            "*can't find the specified secret*",
        ]),
        Fail,
        "check the secret / parameter ARNs in the task definition (region and version suffix included)",
    ),
    rule(
        "secret-unreadable",
        "a secret's value or reference cannot be used as the task definition asks",
        Reason(&[
            "*unable to retrieve secret*invalid character*",
            "*unable to retrieve secret*cannot unmarshal*",
            "*invalid ARN format*secret*",
            "*did not contain json key*",
        ]),
        Fail,
        "a secret read by JSON key (arn:…:secret:name:key::) must hold a JSON object with that key; check valueFrom's ARN format",
    ),
    rule(
        "out-of-memory-at-start",
        "a container was killed for memory while it was being started",
        Reason(&["*container init was OOM-killed*"]),
        Fail,
        "the memory limit is too low even to start the container: raise the task or container memory",
    ),
    // Only what the configuration alone explains: a runc mount error (`rootfs_linux.go … mounting`) can be a
    // full or failing host disk as well, and is left to the runtime family (and to `repeated-failure`).
    rule(
        "container-config-invalid",
        "the container runtime refused the container's configuration (devices, mounts, volumes)",
        Reason(&[
            "*error creating device nodes*",
            "*mount callback failed*",
            "*invalid characters for a local volume name*",
            "*Invalid character * in volume name*",
            "*Dockerfile contains VOLUME instruction*",
        ]),
        Fail,
        "check the task definition's mountPoints, volumes and linuxParameters (devices) against the image and the launch type",
    ),
    rule(
        "entrypoint-invalid",
        "the container's command or entrypoint cannot be executed",
        Reason(&[
            "*executable file not found*",
            "*CannotStartContainerError*no such file or direct*",
            "*CannotStartContainerError*permission denied*",
            "*CannotStartContainerError*oci runtime error*",
            "*CannotCreateContainerError*invalid*",
            "*exec: *permission denied*",
            "*exec: *: stat *no such file*",
        ]),
        Fail,
        "check command/entryPoint against the image (is the binary present and executable?)",
    ),
    rule(
        "out-of-memory",
        "a container was killed for using more memory than it has",
        Reason(&["OutOfMemoryError*", "*Container killed due to memory usage*", "*OutOfMemory*"]),
        Fail,
        "raise the task or container memory; a retry at the same memory fails the same way",
    ),
    rule(
        "fargate-disk-full",
        "the image or its layers do not fit the Fargate task's ephemeral storage",
        ReasonOnFargate(&["*no space left on device*", "*not enough space on the disk*"]),
        Fail,
        "raise ephemeralStorage.sizeInGiB in the task definition (20 GiB by default) or slim the image",
    ),
    rule(
        "host-disk-full",
        "the host ran out of disk space",
        Reason(&["*no space left on device*", "*Thin Pool has * free data blocks*"]),
        RetryLater,
        "on EC2, clean up images (ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION) or grow the volume; on Fargate, raise ephemeralStorage",
    ),
    rule(
        "efs-path-missing",
        "the EFS file system has no such path (root directory or access point)",
        Reason(&[
            "*EFS*No such file or directory*",
            "*EFS*does not exist*",
            "*reason given by server: No such file or directory*",
        ]),
        Fail,
        "check rootDirectory / the access point of the EFS volume in the task definition",
    ),
    rule(
        "efs-access-denied",
        "the EFS file system refused the mount (access denied by its policy or the access point)",
        Reason(&["*access denied by server while mounting*"]),
        Fail,
        "allow the task role in the file system policy (elasticfilesystem:ClientMount, ClientWrite), set iam: ENABLED on the volume, and check the access point's POSIX user",
    ),
    fallback(
        "efs-mount",
        "an EFS volume could not be mounted",
        Reason(&["*failed to invoke EFS utils*", "*mount.nfs4*", "*EFS volume*", "*efs-utils*", "*amazon-efs*"]),
        "if it repeats: a mount target in each subnet's AZ, and its security group allowing NFS (2049) from the task",
    ),
    rule(
        "registry-unavailable",
        "the registry answered with a server error",
        Reason(&[
            "*500 Internal Server Error*",
            "*502 Bad Gateway*",
            "*503 Service Unavailable*",
            "*504 Gateway*",
            "*received unexpected HTTP status: 5*",
        ]),
        RetryLater,
        "check the registry's status page",
    ),
    fallback(
        "network-timeout",
        "a network call during start-up timed out or was cut (registry, secrets, logs)",
        Reason(&[
            "*i/o timeout*",
            "*context deadline exceeded*",
            "*context canceled*",
            "*connection reset by peer*",
            "*TLS handshake timeout*",
            "*Client.Timeout exceeded*",
            "*RequestError: send request failed*",
            "*request canceled while waiting for connection*",
            "*Could not reach any registry endpoint*",
            "*connection issue between the task and*",
            "*dial tcp*",
        ]),
        "if it repeats, check the subnet's route to ECR/Secrets Manager/CloudWatch (NAT, VPC endpoints, assignPublicIp)",
    ),
    rule(
        "eni-refused-by-policy",
        "the task's network interface was refused by an organisation or tag policy",
        Reason(&[
            "*attempting to tag the network interface*InvalidParameterValue*",
            "*network interface*UnauthorizedOperation*",
            "*network interface*explicit deny*",
            "*network interface*service control polic*",
            "*network interface*tag polic*",
        ]),
        Fail,
        "an SCP or tag policy denies ec2:CreateNetworkInterface / CreateTags for the task's ENI: check the organisation's policies and the tags ECS propagates",
    ),
    rule(
        "eni-provisioning",
        "the task's network interface could not be provisioned in time",
        Reason(&[
            "Timeout waiting for network interface provisioning to complete*",
            "*Network interface provision complete error*",
            "*while preparing network interface*",
            "*Unexpected EC2 error while attempting to Create Network Interface*",
            "*ENI*timeout*",
        ]),
        RetryLater,
        "AWS calls this intermittent; persistent failures point at subnet IP exhaustion",
    ),
    rule(
        "ephemeral-storage-provisioning",
        "the task's ephemeral storage could not be provisioned in time",
        Reason(&["*Timeout waiting for EphemeralStorage provisioning to complete*", "*EphemeralStorage*"]),
        RetryLater,
        "AWS calls this intermittent",
    ),
    rule(
        "capacity-unavailable",
        "no capacity was available for the task",
        Reason(&["*Capacity is unavailable at this time*", "*insufficient capacity*", "*InsufficientCapacity*"]),
        RetryLater,
        "frequent: allow more subnets / availability zones, or another capacity provider",
    ),
    rule(
        "image-layers-unusable",
        "the image's layers could not be unpacked (inconsistent layer data, or an image the runtime cannot apply)",
        // Not every "failed to register layer": on a host it is often the disk or a runtime hiccup. A cause
        // of that family that repeats word for word is stopped by `repeated-failure` instead.
        // The empty-stderr form only: `ApplyLayer exit status 1 … unexpected EOF` is a download cut short.
        Reason(&["*ApplyLayer exit status 1 stdout: stderr:", "*inconsistent*layer*", "*layer*inconsistent*"]),
        Fail,
        "rebuild and push the image (a fresh tag); if it is very large, slim it: a layer that cannot be applied fails the same way on every try",
    ),
    fallback(
        "container-runtime-error",
        "the container runtime or an ECS platform step failed or timed out",
        Reason(&[
            "ContainerRuntimeTimeoutError*",
            "*DockerTimeoutError*",
            "*CannotInspectContainerError*",
            "*ContainerRuntimeError*",
            "*InternalError*",
            "*CannotCreateContainerError*",
            "*CannotStartContainerError*",
            "*CannotStopContainerError*",
            "*CannotCreateVolumeError*",
            "*Service Discovery instance could not be registered*",
        ]),
        "on EC2, check the host's Docker / containerd health and the ECS agent log",
    ),
    fallback(
        "image-pull-failed",
        "the image could not be pulled, for a reason not recognised above",
        Reason(&["*CannotPullContainerError*"]),
        "read the full reason with `ecs-reactor show`; report it if it should be classified",
    ),
    fallback(
        "resource-initialization-failed",
        "task resources (secrets, logging, volumes, network) could not be set up, for a reason not recognised above",
        Reason(&["*ResourceInitializationError*"]),
        "read the full reason with `ecs-reactor show`; report it if it should be classified",
    ),
    // — The application itself.
    rule(
        "command-not-runnable",
        "an essential container exited 126 or 127: the shell could not run its command (not executable, not found)",
        EssentialExitCode(&[126, 127]),
        Fail,
        "check command/entryPoint against the image: 127 is 'command not found', 126 'not executable'",
    ),
    rule(
        "application-exit-nonzero",
        "an essential container exited with a non-zero code and no platform reason",
        EssentialExitNonZero,
        RetryLater,
        "the application's logs say why; add a rule (onExitCode) if some codes mean 'do not retry'",
    ),
    fallback(
        "failed-to-start",
        "the task failed to start, for a reason not recognised above",
        FailedToStart,
        "read the full reason with `ecs-reactor show`",
    ),
    fallback(
        "unrecognised-stop",
        "the task stopped for a reason ecs-reactor does not recognise",
        Anything,
        "retried as a precaution within maxAttempts; report the reason if it should be classified",
    ),
];

/// How a launch went wrong before any task ran.
#[derive(Debug, Clone, Copy)]
pub enum LaunchMatcher {
    /// A `failures[]` entry of a successful RunTask response: reason globs.
    FailureReason(&'static [&'static str]),
    /// An API error: an error code glob, and message globs (any of them).
    ApiError(&'static [&'static str], &'static [&'static str]),
    /// Anything: the last resort.
    AnyProblem,
}

#[derive(Debug, Clone, Copy)]
pub struct LaunchRule {
    pub id: &'static str,
    pub description: &'static str,
    /// The rule applies when any of these matches.
    pub matchers: &'static [LaunchMatcher],
    pub action: Action,
    pub hint: &'static str,
}

const fn launch(
    id: &'static str,
    description: &'static str,
    matchers: &'static [LaunchMatcher],
    action: Action,
    hint: &'static str,
) -> LaunchRule {
    LaunchRule {
        id,
        description,
        matchers,
        action,
        hint,
    }
}

use LaunchMatcher::{AnyProblem, ApiError, FailureReason};

/// The rules for a RunTask call that started no task (API error, or `failures[]` in a 200 response).
pub const LAUNCH_RULES: &[LaunchRule] = &[
    launch(
        "launch-throttled",
        "RunTask was throttled",
        // ECS wraps EC2's throttling of its own calls in InvalidParameterException: "Error retrieving subnet
        // information for [...]: Rate exceeded (ErrorCode: Throttling)".
        &[ApiError(&["*"], &["*Rate exceeded*", "*RequestLimitExceeded*", "*Request limit exceeded*", "*ErrorCode: Throttling*"]), ApiError(&["ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"], &["*"])],
        RetryLater,
        "many jobs launched at once: spread their schedules",
    ),
    launch(
        "launch-capacity-unavailable",
        "no capacity was available for the task",
        &[ApiError(&["*"], &["*Capacity is unavailable at this time*"]), FailureReason(&["*Capacity is unavailable*"])],
        RetryLater,
        "allow more subnets / availability zones, or another capacity provider",
    ),
    launch(
        "launch-no-instance-resources",
        "no container instance had the CPU, memory, ports, ENIs or GPUs the task needs",
        &[FailureReason(&["RESOURCE:*"])],
        RetryLater,
        "the cluster may be scaling out; if it repeats, add capacity or a capacity provider with managed scaling",
    ),
    launch(
        "launch-agent-unavailable",
        "the ECS agent on the chosen instance was disconnected",
        &[FailureReason(&["AGENT"])],
        RetryLater,
        "check the container instances' agent connectivity",
    ),
    launch(
        "launch-instance-gone",
        "the chosen container instance no longer exists or is not active",
        &[FailureReason(&["MISSING", "INACTIVE"])],
        RetryLater,
        "instances are being replaced; if it repeats, check the Auto Scaling group",
    ),
    launch(
        "launch-placement-impossible",
        "no instance satisfies the task's placement constraints or required attributes",
        &[FailureReason(&["ATTRIBUTE", "LOCATION", "MemberOf*", "DistinctInstance*"])],
        Fail,
        "check placementConstraints and the task definition's requiresAttributes against the cluster",
    ),
    launch(
        "launch-concurrency-limit",
        "the account runs as many tasks as its quota allows",
        &[FailureReason(&["*reached the limit on the number of tasks*"]), ApiError(&["*"], &["*reached the limit on the number of tasks*"])],
        RetryLater,
        "retried when other tasks have finished; raise the Service Quota if it is routine",
    ),
    launch(
        "launch-quota-exceeded",
        "the task asks for more than the account's quota allows (e.g. Fargate vCPUs)",
        &[ApiError(&["*"], &["*above your limit*"])],
        Fail,
        "request a Service Quotas increase, or lower the task's CPU",
    ),
    launch(
        "launch-access-denied",
        "the reactor may not run this task or pass its roles",
        &[ApiError(&["AccessDeniedException", "AccessDenied", "UnauthorizedOperation"], &["*"]), ApiError(&["*"], &["*not authorized*"])],
        Fail,
        "the starter's role needs ecs:RunTask on the task definition and iam:PassRole on its roles",
    ),
    launch(
        "launch-cluster-not-found",
        "the cluster does not exist",
        &[ApiError(&["ClusterNotFoundException"], &["*"])],
        Fail,
        "check runTask.cluster (name or ARN, same region)",
    ),
    launch(
        "launch-platform-invalid",
        "the platform version or task definition does not fit the launch type",
        &[ApiError(&["PlatformUnknownException", "PlatformTaskDefinitionIncompatibilityException", "UnsupportedFeatureException"], &["*"])],
        Fail,
        "check platformVersion, launchType and the task definition's requiresCompatibilities",
    ),
    launch(
        "launch-blocked",
        "the account is blocked from running tasks",
        &[ApiError(&["BlockedException"], &["*"])],
        Fail,
        "contact AWS Support",
    ),
    launch(
        "launch-token-conflict",
        "the attempt's clientToken was used with different parameters",
        &[ApiError(&["ConflictException"], &["*"])],
        Fail,
        "the launcher adopts a task already started with the attempt's startedBy; reaching this means the job changed mid-attempt: start a new run",
    ),
    launch(
        "launch-server-error",
        "ECS answered with a server error",
        &[ApiError(&["ServerException", "InternalFailure", "ServiceUnavailable", "ServiceUnavailableException"], &["*"])],
        RetryLater,
        "check the AWS Health Dashboard",
    ),
    launch(
        "launch-invalid-request",
        "ECS rejected the request as invalid",
        &[ApiError(&["InvalidParameterException", "ClientException", "ValidationException"], &["*"])],
        Fail,
        "the message names the parameter; fix the job or the task definition",
    ),
    launch(
        "launch-failed",
        "the launch failed for a reason ecs-reactor does not recognise",
        &[AnyProblem],
        RetryLater,
        "retried as a precaution within maxAttempts; report the reason if it should be classified",
    ),
];
