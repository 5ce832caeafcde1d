# rce: one entry point for people and CI. Every recipe runs with no stdin and CI=true.
#   make setup    packages, Docker engine, Redis, .rce/env, images (scripts/setup.sh; idempotent)
#   make images   the sandbox images (FORCE=1 rebuilds)
#   make web      the browser editor (web/dist: npm ci + vite build; skipped when web/ is unchanged)
#   make run      setup and web (building rce meanwhile), then serve on http://127.0.0.1:8080;
#                 builds the images of RUN_LANGS (16 popular languages) unless LANGS is given
#   make test     setup and web (building the tests meanwhile), then the whole workspace's tests
#   make bench    setup, then the benchmark (release build) against the bare-container floor
#   make stop     stop the dockerd and redis-server that setup started (by pid file)
#   make status   what setup started, and .rce/env
#   LANGS="python c" (setup, images, run, bench): build only these languages' images; LANGS=all
#                 builds every one (make test always does: it runs every language)
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

TEST_THREADS ?= 2
LANGS ?=
FORCE ?=
# make run builds these images unless LANGS says otherwise (LANGS=all: every language):
# the most asked-for languages, about 3 of the 7 minutes all 41 take on 2 cores. A worker
# serves every language whose image is built, so after make test (all images) make run
# serves all 41.
RUN_LANGS ?= python javascript typescript c cpp java go rust ruby bash csharp php perl lua sqlite python-scientific
# LANGS as scripts/setup.sh's RCE_LANGS takes it (empty: every language)
langs_or = $(if $(filter all,$(LANGS)),,$(or $(LANGS),$(1)))

.PHONY: help setup images web run test bench stop status

help:
	@sed -n '2,12p' Makefile

setup:
	RCE_LANGS="$(call langs_or,)" scripts/setup.sh </dev/null

images:
	RCE_SKIP_IMAGES=1 scripts/setup.sh </dev/null
	scripts/images.sh $(if $(FORCE),--force) $(call langs_or,) </dev/null

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

# run and test build rce while setup installs the services and builds the images
# (scripts/alongside-setup.sh): CPU-bound and download-bound work overlap.
run: web
	RCE_LANGS="$(call langs_or,$(RUN_LANGS))" scripts/alongside-setup.sh cargo build --release --bin rce
	. .rce/env && exec ./target/release/rce serve

test: web
	RCE_LANGS="" scripts/alongside-setup.sh cargo test --workspace --no-run
	. .rce/env && WEB_E2E=require cargo test --workspace -- --test-threads=$(TEST_THREADS)

bench: setup
	cargo build --release --bin rce --bin rce-bench
	. .rce/env && ./target/release/rce-bench $(BENCH_ARGS)

stop:
	scripts/services.sh stop

status:
	scripts/services.sh status
