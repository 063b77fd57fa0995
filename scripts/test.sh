#!/usr/bin/env bash
# scripts/test.sh — `make test`, and what CI runs: starts the services the tests need (their
# own ZooKeeper and SeaweedFS, MySQL, HAProxy installed), checks formatting and lints, builds
# the binaries, runs every test, and stops the services again, whatever happens.
#
# Arguments are passed to the test runner: cargo nextest run when cargo-nextest is installed,
# else cargo test. E.g. scripts/test.sh -E 'test(compose)'   (make test ARGS="-E 'test(compose)'")
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

services=$DC_ROOT/scripts/test-services.sh

# One `make test` at a time per checkout: they would share the test services.
mkdir -p "$DC_TEST_STATE_DIR"
exec 9>"$DC_TEST_STATE_DIR/lock"
if ! flock -n 9; then
    say "Another make test is running in this checkout; waiting for it to finish"
    flock 9
fi

# Services already running (kept up by hand with `scripts/test-services.sh up`) are used and
# left running; what this run starts, it stops, whatever happens.
mapfile -t kept < <("$services" running)
stop_services() {
    local rc=$? name started=()
    trap - EXIT INT TERM
    for name in $("$services" running); do
        [[ " ${kept[*]} " == *" $name "* ]] || started+=("$name")
    done
    if ((${#started[@]})); then
        say "Stopping the test services this run started"
        "$services" down "${started[@]}" || rc=1
    fi
    exit "$rc"
}
trap stop_services EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

t0=$SECONDS
# Started first, so they boot while cargo works; waited for before the tests.
"$services" start

cd "$DC_ROOT"
say "Checking formatting: cargo fmt --all -- --check"
cargo fmt --all -- --check
say "Linting: cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
build_binaries

"$services" wait
eval "$("$services" env)"
# The end-to-end tests' processes log there, one folder per test: start empty.
rm -rf "$DC_TEST_LOG_DIR"
mkdir -p "$DC_TEST_LOG_DIR"
# The MySQL URL carries the administrator's password: shown without it.
say "Test services: ZooKeeper $DC_TEST_ZK, S3 $DC_TEST_S3, MySQL ${DC_TEST_MYSQL##*@}; binaries in $DC_TEST_BIN_DIR; logs of the end-to-end tests in $DC_TEST_LOG_DIR"

if cargo nextest --version >/dev/null 2>&1; then
    say "Testing: cargo nextest run --workspace $*"
    cargo nextest run --workspace "$@"
else
    say "Testing: cargo test --workspace $* (install cargo-nextest for faster runs)"
    cargo test --workspace "$@"
fi
say "All checks and tests passed in $((SECONDS - t0))s"
