# ecs-reactor — the README's commands. Everything runs offline once crates are fetched.
SHELL := /bin/bash
CARGO ?= cargo
# Bounded property / fuzz cases in CI; raise locally with `make test PROPTEST_CASES=10000`.
export PROPTEST_CASES ?= 256

PYTHON ?= python3
VENV := .venv
CHECKOV_VENV := .venv-checkov
# The tests start moto_server from the venv themselves (127.0.0.1, a free port).
export MOTO_SERVER := $(CURDIR)/$(VENV)/bin/moto_server

.PHONY: test test-clock demo explain-samples venv fmt-check clippy build soak bench bench-quick

## make test — format check, lints as errors, then every test (unit, property, CLI, against moto).
test: venv fmt-check clippy
	$(CARGO) test --workspace --all-targets --locked

## make test-clock — every test with the clock moved, to prove none depends on the date or time of day it runs:
## the whole suite under libfaketime 400 days ahead, then 30 days behind (moto and the Lambda binaries the tests
## start share the moved clock). Only the wall clock moves: monotonic timers (timeouts, tokio's sleeps) keep real
## time. Installs Debian's `faketime` when it is missing. Not part of `make test` (it runs the suite twice more).
FAKETIME_SHIFTS ?= +400d -30d
test-clock: venv
	@command -v faketime >/dev/null || { apt-get update -qq && apt-get install -y -qq faketime; }
	@# Everything the suite builds, built on the real clock first (the tests' own `cargo build`s of the Lambda
	@# binaries and the benchmark included): rustc can hang under libfaketime, and the moved runs compile nothing.
	$(CARGO) test --workspace --all-targets --locked --no-run
	$(CARGO) build --locked --bins -p starter -p classifier -p scheduler -p ecs-reactor
	$(CARGO) build --locked -p reactor-bench
	@set -e; for shift in $(FAKETIME_SHIFTS); do \
	  echo "== make test-clock: the clock at $$shift ($$(FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f "$$shift" date -u +%FT%TZ))"; \
	  FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f "$$shift" $(CARGO) test --workspace --all-targets --locked; \
	done
	@echo "== make test-clock: the suite passed at every shift ($(FAKETIME_SHIFTS))"

## make soak — the full soak: 1,000 runs with random endings, duplicates and late deliveries through the real
## handlers against moto, then the invariants (make test runs the same soak with 100 runs). Prints one summary line.
soak: venv
	REACTOR_SOAK_RUNS=$${REACTOR_SOAK_RUNS:-1000} $(CARGO) test --locked -p ecs-reactor --test integration -- soak::soak --exact --nocapture

## make venv — the pinned Python tools (moto server, aws-sam-cli, AWS CLI) in .venv and checkov in .venv-checkov
## (its pins clash with aws-sam-cli's); reinstalled only when the pins change.
venv: $(VENV)/.installed $(CHECKOV_VENV)/.installed

$(VENV)/.installed: tools/requirements.txt tools/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements.txt -c tools/constraints.txt
	touch $@

$(CHECKOV_VENV)/.installed: tools/checkov-requirements.txt tools/checkov-constraints.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/checkov-requirements.txt -c tools/checkov-constraints.txt
	touch $@

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

## make build — the deployable package: ONE `cargo lambda build` of the three functions for arm64
## (provided.al2023), release profile, cross-linked with zig (cargo-lambda and zig pinned in .venv), into
## target/lambda/<binary>/bootstrap, the directories template.yml's CodeUri names (`sam deploy` zips them; there is
## no `sam build` step, and the functions say SkipBuild so that one run out of habit changes nothing). Then checks
## that each bootstrap is an arm64 executable and reports its size and zipped size. Needs the aarch64 standard
## library (rustup target). A stale `sam build` output is removed: `sam deploy` would prefer it to template.yml.
build: venv
	rustup target add aarch64-unknown-linux-gnu
	rm -rf .aws-sam/build
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(CARGO) lambda build --release --arm64 --locked \
	  --bin starter --bin classifier --bin scheduler
	$(VENV)/bin/python tools/package_sizes.py target/lambda

## make demo — the retry loop as a story on a local AWS: moto on 127.0.0.1 (a free port), the real Lambda
## binaries under SAM's runtime emulator. Stops everything it started. Re-runs build and install nothing new.
demo: venv
	$(CARGO) run --quiet --locked -p reactor-testkit --example demo

## make explain-samples — the judgement of every sample STOPPED event, one line each (offline, no AWS).
explain-samples:
	@$(CARGO) build --quiet --locked -p ecs-reactor
	@for f in events/stopped-*.json; do \
	  printf '%-45s ' "$$f"; ./target/debug/ecs-reactor explain "$$f" --policy events/job-nightly-report.json \
	    | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["action"], "-", d["rule"])'; \
	done

## make bench — BENCHMARKS.md: init, warm duration and own CPU, memory over 1,000 invocations (the release
## binaries under SAM's runtime emulator against moto), package size (`make build`, reused if no source is newer),
## AWS calls and cost per run next to the Step Functions design, the Python twin of the classifier, a burst of
## 1,000 STOPPED events and retry lateness. Several minutes.
bench: venv
	$(CARGO) build --release --locked -p starter -p classifier -p scheduler
	$(CARGO) run --quiet --locked -p reactor-bench -- --bin-dir target/release --out BENCHMARKS.md

## make bench-quick — every section small on the debug binaries, to a temporary file (what `make test` checks).
bench-quick: venv
	$(CARGO) run --quiet --locked -p reactor-bench -- --quick --out $${TMPDIR:-/tmp}/BENCHMARKS-quick.md
