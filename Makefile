# rce: one entry point for people and CI. Every recipe runs with no stdin and CI=true.
#   make setup    packages, Docker engine, Redis, .rce/env, images (scripts/setup.sh; idempotent)
#   make images   the sandbox images (LANGS="python c" for a subset; FORCE=1 rebuilds)
#   make web      the browser editor (web/dist: npm ci + vite build; skipped when web/ is unchanged)
#   make run      setup and web, then serve on http://127.0.0.1:8080
#   make test     setup and web, then the whole workspace's tests against the real engine and Redis
#   make bench    setup, then the benchmark (release build) against the bare-container floor
#   make stop     stop the dockerd and redis-server that setup started (by pid file)
#   make status   what setup started, and .rce/env
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

TEST_THREADS ?= 2
LANGS ?=
FORCE ?=

.PHONY: help setup images web run test bench stop status

help:
	@sed -n '2,9p' Makefile

setup:
	scripts/setup.sh </dev/null

images:
	RCE_SKIP_IMAGES=1 scripts/setup.sh </dev/null
	scripts/images.sh $(if $(FORCE),--force) $(LANGS) </dev/null

# The hash of web/'s inputs is kept in .rce/web.stamp; npm ci and the build
# run only when it changes (or web/dist or web/node_modules is missing).
WEB_INPUTS := src public index.html package.json package-lock.json vite.config.ts tsconfig.json
web:
	@mkdir -p .rce
	@hash="$$(cd web && find $(WEB_INPUTS) -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)"; \
	if [ -f web/dist/index.html ] && [ -d web/node_modules ] && [ "$$(cat .rce/web.stamp 2>/dev/null)" = "$$hash" ]; then \
	  echo "web: web/dist is up to date"; \
	else \
	  command -v npm >/dev/null || { echo "web: npm is missing (Node.js 20.19+ with npm 11)" >&2; exit 1; }; \
	  (cd web && npm ci --no-audit --no-fund </dev/null && npm run build </dev/null) && echo "$$hash" >.rce/web.stamp; \
	fi

run: setup web
	cargo build --release --bin rce
	. .rce/env && exec ./target/release/rce serve

test: setup web
	. .rce/env && WEB_E2E=require cargo test --workspace -- --test-threads=$(TEST_THREADS)

bench: setup
	cargo build --release --bin rce --bin rce-bench
	. .rce/env && ./target/release/rce-bench $(BENCH_ARGS)

stop:
	scripts/services.sh stop

status:
	scripts/services.sh status
