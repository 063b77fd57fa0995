# Makefile — the entry points for developers and CI. The logic lives in scripts/.
# Ports, paths and other knobs: scripts/defaults.sh (every one overridable from the environment).
# PROFILE=release builds and runs release binaries; ARGS=... goes to the test runner or bench.

.DEFAULT_GOAL := help
SHELL := bash
CARGO_PROFILE_FLAG := $(if $(filter release,$(PROFILE)),--release,)

.PHONY: help up down clean status logs test build lint bench

help: ## Show the targets
	@echo 'distcron: make <target>'
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z]+):.*## /  \1\t/' | expand -t 10

up: ## Install what is missing, build, start the local cluster (API on 127.0.0.1:30000)
	@scripts/cluster.sh up

down: ## Stop the local cluster (keeps its data)
	@scripts/cluster.sh down

clean: ## Stop the local cluster and delete .distcron/ (data, logs, tokens)
	@scripts/cluster.sh clean

status: ## Show what runs in the local cluster and whether it answers
	@scripts/cluster.sh status

logs: ## Show the end of the cluster's logs (FOLLOW=1 to follow, NAME=api-1, N=100)
	@scripts/cluster.sh logs

test: ## Start the test services, check format and lints, build, run all tests (ARGS=...)
	@scripts/test.sh $(ARGS)

build: ## Build the binaries: cargo build --workspace --bins
	cargo build --workspace --bins $(CARGO_PROFILE_FLAG)

lint: ## cargo fmt --check and cargo clippy -D warnings
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

bench: ## Run the benchmarks (ARGS=...)
	@scripts/bench.sh $(ARGS)
