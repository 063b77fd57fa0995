#!/usr/bin/env bash
# scripts/bench.sh — `make bench`: the start-lag benchmark (bench/, distcron-bench) against the
# local cluster.
#
# Builds the release binaries and (re)starts the local cluster with them (PROFILE=release
# scripts/cluster.sh up, which restarts every distcron process whose binary changed), then runs
# distcron-bench (release too) with the cluster's URL, admin token and MySQL. It prints a table
# and writes bench/results/latest.json, a timestamped copy, bench/results/latest.md, and the
# table into bench/README.md. The cluster is left running afterwards (make down stops it).
#
# Arguments (make bench ARGS=...) go to distcron-bench, e.g. --scenarios burst-1000,spread-10000
# or --keep-witness; distcron-bench --help lists them. Settings of the workers go in
# DC_WORKER_ENV, e.g. DC_WORKER_ENV="DISTCRON_CGROUPS=off" (read when they (re)start: a worker
# already running the current build is not restarted, so make down first).
#
# The exit status is 0 unless the benchmark could not run: a missed goal is a figure, not a
# failure, so keep this out of CI's pass/fail.
set -euo pipefail

# The benchmark measures release builds, whatever PROFILE says elsewhere.
export PROFILE=release
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$DC_ROOT"

# Builds the whole workspace (distcron-bench included) and starts what is missing.
"$DC_ROOT/scripts/cluster.sh" up

bench="$(bin_dir)/distcron-bench"
[[ -x "$bench" ]] || die "$bench not found: the build failed?"

say "Running the benchmark: $bench $*"
status=0
# MySQL's administrator URL holds its password: through the environment, not the command line.
DC_BENCH_MYSQL="$(mysql_admin_url "$DC_MYSQL_PORT" "$DC_STATE_DIR/mariadb" "$DC_MYSQL_DATABASE")" \
"$bench" \
    --url "http://$DC_HAPROXY_BIND" \
    --token-file "$DC_STATE_DIR/admin.token" \
    --results-dir "$DC_ROOT/bench/results" \
    --readme "$DC_ROOT/bench/README.md" \
    --cluster-profile release \
    "$@" || status=$?

echo
say "The local cluster is left running (release build): make down stops it."
exit "$status"
