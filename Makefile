# rce: one entry point for people and CI. Every recipe runs with no stdin and CI=true.
#   make setup    packages, Docker engine, Redis, .rce/env, images (scripts/setup.sh; idempotent)
#   make images   the sandbox images (LANGS="python c" for a subset; FORCE=1 rebuilds)
#   make run      setup, then serve on http://127.0.0.1:8080
#   make test     setup, then the whole workspace's tests against the real engine and Redis
#   make bench    setup, then the benchmark (release build) against the bare-container floor
#   make stop     stop the dockerd and redis-server that setup started (by pid file)
#   make status   what setup started, and .rce/env
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

TEST_THREADS ?= 2
LANGS ?=
FORCE ?=

.PHONY: help setup images run test bench stop status

help:
	@sed -n '2,8p' Makefile

setup:
	scripts/setup.sh </dev/null

images:
	RCE_SKIP_IMAGES=1 scripts/setup.sh </dev/null
	scripts/images.sh $(if $(FORCE),--force) $(LANGS) </dev/null

run: setup
	cargo build --release --bin rce
	. .rce/env && exec ./target/release/rce serve

test: setup
	. .rce/env && cargo test --workspace -- --test-threads=$(TEST_THREADS)

bench: setup
	cargo build --release --bin rce --bin rce-bench
	. .rce/env && ./target/release/rce-bench $(BENCH_ARGS)

stop:
	scripts/services.sh stop

status:
	scripts/services.sh status
