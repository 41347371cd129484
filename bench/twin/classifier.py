"""The classifier again, in Python with boto3: the benchmark's yardstick, not shipped.

It does the classifier's work the way a Python Lambda would: parse the ECS Task State Change event, find the
attempt from `startedBy`, read the run and the attempt (consistent reads), judge with a small rule table of
the same kind, and apply the decision with the same conditional writes as crates/aws/src/store.rs (one
transaction for attempt + run + delay item; a finished run publishes its outcome once, behind a conditional
lease). Same table, same items, same SNS message, so the benchmark compares like with like.
"""

import fnmatch
import json
import logging
import os
import random
import time

import boto3
from botocore.config import Config

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

PREFIX = "ecs-reactor/"
FREE = {"SpotInterruption", "TerminationNotice"}
LEASE_SECONDS = 60
SHARDS = 4

# (rule id, action, counts as attempt, glob on the stopped reason or a container reason), first match wins.
RULES = [
    ("spot-interruption", "RETRY_NOW", False, "*your spot task was interrupted*"),
    ("host-terminated", "RETRY_NOW", False, "*host ec2*terminated*"),
    ("image-not-found", "FAIL", True, "*cannotpullcontainererror*not found*"),
    ("image-pull-access-denied", "FAIL", True, "*cannotpullcontainererror*access denied*"),
    ("image-pull-rate-limited", "RETRY_LATER", True, "*cannotpullcontainererror*toomanyrequests*"),
    ("image-pull-timeout", "RETRY_LATER", True, "*cannotpullcontainererror*i/o timeout*"),
    ("secrets-access-denied", "FAIL", True, "*resourceinitializationerror*accessdenied*"),
    ("eni-timeout", "RETRY_LATER", True, "*timeout waiting for network interface*"),
    ("capacity-unavailable", "RETRY_LATER", True, "*capacity is unavailable*"),
    ("out-of-memory", "FAIL", True, "*outofmemoryerror*"),
    ("runtime-timeout", "RETRY_LATER", True, "*containerruntimetimeouterror*"),
]


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def s(value: str) -> dict:
    return {"S": value}


def n(value: int) -> dict:
    return {"N": str(value)}


def stamp(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def judge(detail: dict, essentials: list | None) -> tuple[str, str, bool]:
    """(action, rule id, counts as attempt) for a stopped task."""
    containers = [c for c in detail.get("containers", []) if essentials is None or c.get("name") in essentials]
    stop_code = detail.get("stopCode", "")
    ordinary = stop_code in ("", "EssentialContainerExited")
    if ordinary and containers and all(c.get("exitCode") == 0 for c in containers):
        return "SUCCEED", "essential-containers-exited-0", True
    texts = [detail.get("stoppedReason", "")] + [c.get("reason", "") for c in containers]
    for rule_id, action, counts, pattern in RULES:
        if any(fnmatch.fnmatch(t.lower(), pattern) for t in texts if t):
            return action, rule_id, counts
    if stop_code in FREE:
        return "RETRY_NOW", "capacity-taken-away", False
    if stop_code == "UserInitiated":
        return "FAIL", "stopped-by-user", True
    return "RETRY_LATER", "application-exit-nonzero", True


class Handler:
    """Clients and configuration once per container, as the Rust classifier's `main` does."""

    def __init__(self) -> None:
        config = Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 3, "mode": "standard"})
        self.table = os.environ["REACTOR_TABLE"]
        self.topic = os.environ["REACTOR_TOPIC_ARN"]
        self.dynamodb = boto3.client("dynamodb", config=config)
        self.ecs = boto3.client("ecs", config=config)
        self.sns = boto3.client("sns", config=config)

    def get(self, pk: str, sk: str) -> dict | None:
        out = self.dynamodb.get_item(TableName=self.table, Key={"pk": s(pk), "sk": s(sk)}, ConsistentRead=True)
        return out.get("Item")

    def handle(self, event: dict) -> dict:
        if event.get("source") != "aws.ecs" or event.get("detail-type") != "ECS Task State Change":
            return {"outcome": "IGNORED", "why": "not an ECS Task State Change"}
        detail = event["detail"]
        if detail.get("lastStatus") != "STOPPED":
            return {"outcome": "IGNORED", "why": f"task is {detail.get('lastStatus')}, not STOPPED"}
        started_by = detail.get("startedBy") or ""
        if not started_by.startswith(PREFIX):
            return {"outcome": "IGNORED", "why": "not launched by ecs-reactor"}
        run_id, _, number = started_by[len(PREFIX) :].rpartition("/")
        attempt_no = int(number)
        pk, attempt_sk = f"RUN#{run_id}", f"ATTEMPT#{attempt_no:04}"
        run, attempt = self.get(pk, "RUN"), self.get(pk, attempt_sk)
        ids = {"runId": run_id, "attempt": attempt_no}
        if run is None or attempt is None:
            return {"outcome": "UNKNOWN_RUN", **ids}
        if attempt["state"]["S"] == "DECIDED":
            return {"outcome": "DUPLICATE", **ids}
        if "taskArn" in attempt and attempt["taskArn"]["S"] != detail["taskArn"]:
            return {"outcome": "OTHER_TASK", **ids}
        status = run["status"]["S"]
        if int(run["attempt"]["N"]) != attempt_no or status not in ("LAUNCHING", "RUNNING"):
            return {"outcome": "STALE", **ids}
        job = json.loads(run["request"]["S"])
        retry = job.get("retry", {})
        stored = [v["S"] for v in run.get("essentialContainers", {}).get("L", [])]
        essentials = job.get("essentialContainers") or stored or None
        action, rule_id, counts = judge(detail, essentials)
        used = attempt_no - int(run.get("countsFrom", {"N": "1"})["N"]) + 1 - int(run["disruptions"]["N"])
        if action in ("RETRY_NOW", "RETRY_LATER") and counts and used >= retry.get("maxAttempts", 3):
            action, rule_id = "FAIL", "attempts-exhausted"
        delay = None
        if action == "RETRY_LATER":
            base = retry.get("intervalSeconds", 30) * retry.get("backoffRate", 2.0) ** max(used - 1, 0)
            delay = int(min(base, retry.get("maxDelaySeconds", 900)))
            if retry.get("jitter", "FULL") == "FULL":
                delay = random.Random(fnv1a64(run_id.encode()) ^ attempt_no).randint(0, delay)
        now = time.time()
        at = stamp(now)
        self.apply(run_id, attempt_no, detail, action, rule_id, counts, delay, now, at)
        LOG.info(json.dumps({"run": run_id, "attempt": attempt_no, "action": action, "rule": rule_id}))
        if action in ("SUCCEED", "FAIL"):
            self.notify_once(run, "SUCCEEDED" if action == "SUCCEED" else "FAILED", attempt_no, rule_id, now)
        return {"outcome": "APPLIED", **ids, "action": action, "ruleId": rule_id, "delaySeconds": delay}

    def apply(self, run_id, attempt_no, detail, action, rule_id, counts, delay, now, at) -> None:
        pk = f"RUN#{run_id}"
        facts = {
            "state": s("DECIDED"),
            "action": s(action),
            "ruleId": s(rule_id),
            "countsAsAttempt": {"BOOL": counts},
            "taskArn": s(detail["taskArn"]),
            "stopCode": s(detail.get("stopCode", "")),
            "stoppedReason": s(detail.get("stoppedReason", "")),
            "eventVersion": n(detail.get("version", 0)),
            "containers": {
                "L": [
                    {"M": {"name": s(c["name"]), **({"exitCode": n(c["exitCode"])} if "exitCode" in c else {})}}
                    for c in detail.get("containers", [])
                ]
            },
        }
        if delay is not None:
            facts["delaySeconds"] = n(delay)
        status = {"SUCCEED": "SUCCEEDED", "FAIL": "FAILED", "RETRY_LATER": "RETRY_SCHEDULED"}.get(action, "LAUNCHING")
        run_fields = {
            "status": s(status),
            "lastAction": s(action),
            "lastRuleId": s(rule_id),
            "updatedAt": s(at),
            "byStatusPk": s(f"STATUS#{status}"),
            "byStatusSk": s(f"{at}#{run_id}"),
        }
        items = [
            self.update(pk, f"ATTEMPT#{attempt_no:04}", facts, "attribute_exists(pk) AND #c0 <> :c0", {"#c0": "state"}, {":c0": s("DECIDED")}),
            self.update(
                pk,
                "RUN",
                run_fields,
                "#c0 = :c0 AND #c1 IN (:c1, :c2)",
                {"#c0": "attempt", "#c1": "status"},
                {":c0": n(attempt_no), ":c1": s("LAUNCHING"), ":c2": s("RUNNING")},
            ),
        ]
        if delay is not None:
            due = int(now) + delay
            shard = fnv1a64(run_id.encode()) % SHARDS
            delay_item = {
                "pk": s(pk),
                "sk": s(f"DELAY#{attempt_no + 1:04}"),
                "runId": s(run_id),
                "attempt": n(attempt_no + 1),
                "dueAt": n(due),
                "ttl": n(due),
                "dueShard": s(f"DUE#{shard}"),
            }
            items.append({"Put": {"TableName": self.table, "Item": delay_item, "ConditionExpression": "attribute_not_exists(pk)"}})
        self.dynamodb.transact_write_items(TransactItems=items)

    def update(self, pk, sk, fields, condition, cond_names, cond_values) -> dict:
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": value for i, value in enumerate(fields.values())}
        expression = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
        return {
            "Update": {
                "TableName": self.table,
                "Key": {"pk": s(pk), "sk": s(sk)},
                "UpdateExpression": expression,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {**names, **cond_names},
                "ExpressionAttributeValues": {**values, **cond_values},
            }
        }

    def notify_once(self, run: dict, status: str, attempts: int, rule_id: str, now: float) -> None:
        key = {"pk": run["pk"], "sk": s("RUN")}
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="SET #lease = :until",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(#notified) AND (attribute_not_exists(#lease) OR #lease < :now)",
                ExpressionAttributeNames={"#lease": "notifyLeaseUntil", "#notified": "notifiedAt"},
                ExpressionAttributeValues={":now": n(int(now)), ":until": n(int(now) + LEASE_SECONDS)},
            )
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return
        job = run["job"]["S"]
        outcome = {"runId": run["runId"]["S"], "job": job, "status": status, "attempts": attempts, "rule": rule_id}
        self.sns.publish(
            TopicArn=self.topic,
            Subject=f"ecs-reactor: {job} {status} after {attempts} attempt(s)"[:100],
            Message=json.dumps(outcome, indent=2),
            MessageAttributes={
                "job": {"DataType": "String", "StringValue": job},
                "status": {"DataType": "String", "StringValue": status},
                "runId": {"DataType": "String", "StringValue": outcome["runId"]},
            },
        )
        self.dynamodb.update_item(
            TableName=self.table,
            Key=key,
            UpdateExpression="SET #notified = :at REMOVE #lease",
            ExpressionAttributeNames={"#notified": "notifiedAt", "#lease": "notifyLeaseUntil"},
            ExpressionAttributeValues={":at": s(stamp(now))},
        )
