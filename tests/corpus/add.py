#!/usr/bin/env python3
"""Append cases (a JSON array on stdin, or JSON lines) to cases.jsonl after validating them."""
import json, sys, os
P = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases.jsonl")
KEYS = ["id","source","stopCode","stoppedReason","launchType","containers","expected","why","clearCut"]
CODES = {"TaskFailedToStart","EssentialContainerExited","UserInitiated","ServiceSchedulerInitiated","SpotInterruption","TerminationNotice",None}
existing = set()
if os.path.exists(P):
    for l in open(P):
        if l.strip(): existing.add(json.loads(l)["id"])
data = sys.stdin.read().strip()
cases = json.loads(data) if data.startswith("[") else [json.loads(l) for l in data.splitlines() if l.strip()]
out = []
for c in cases:
    c.setdefault("launchType", None)
    c = {k: c[k] for k in KEYS} if set(c) >= set(KEYS) and set(c) <= set(KEYS) else sys.exit(f"bad keys {c.get('id')}: {sorted(set(c)^set(KEYS))}")
    assert c["id"] not in existing, f"dup id {c['id']}"
    assert c["stopCode"] in CODES, c["id"]
    assert c["launchType"] in ("FARGATE","EC2",None), c["id"]
    assert c["expected"] in ("SUCCEED","RETRY_NOW","RETRY_LATER","FAIL"), c["id"]
    assert isinstance(c["clearCut"], bool)
    for k in c["containers"]:
        assert set(k) == {"name","exitCode","reason","essential"}, (c["id"], k)
    assert c["stoppedReason"] or any(k["reason"] or k["exitCode"] is not None for k in c["containers"]), c["id"]
    existing.add(c["id"]); out.append(c)
with open(P, "a") as f:
    for c in out: f.write(json.dumps(c, ensure_ascii=False) + "\n")
print(f"added {len(out)}, total {len(existing)}")
