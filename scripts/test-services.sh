#!/usr/bin/env bash
# scripts/test-services.sh — the services the tests need, on ports and state of their own
# (.distcron/test/), so that `make test` can run beside a `make up` cluster.
#
#   start   install what is missing (ZooKeeper, HAProxy, SeaweedFS, MariaDB, schemathesis,
#           Chromium and chromedriver for the page's browser test),
#           start ZooKeeper, SeaweedFS and a MariaDB of the tests' own (each from empty state
#           unless already running; MariaDB's root has a generated password); does not wait
#   wait    wait until they answer
#   up      start, then wait
#   down [NAME...]  stop what start started (zookeeper, s3, mysql; default: all).
#   running print the names of the services that run (started by these scripts)
#   env     print the DC_TEST_* variables the tests read, as export lines:
#           eval "$(scripts/test-services.sh env)"
#
# HA=1 (make test HA=1): in place of the single ZooKeeper and MariaDB, the ZooKeeper ensemble
# and the Galera cluster behind HAProxy of `make up HA=1` (scripts/ha.sh), on the tests' own
# ports (DC_TEST_HA_*); `start` records the choice for the other commands.
#
# scripts/test.sh uses it; run it by hand to keep the services up while running single tests.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STATE=$DC_TEST_STATE_DIR
RUN_DIR=$STATE/run
LOG_DIR=$STATE/logs
PORTS_FILE=$STATE/ports
PORT_VARS=(DC_TEST_ZK_PORT DC_TEST_S3_PORT DC_TEST_WEED_MASTER_PORT
    DC_TEST_WEED_VOLUME_PORT DC_TEST_WEED_FILER_PORT DC_TEST_MYSQL_PORT)
MYSQL_DIR=$STATE/mariadb
# SeaweedFS's identities and certificates (scripts/s3.sh), and the tests' bucket.
S3_SECRETS=$STATE/s3
TEST_BUCKET=distcron-test

# load_ports: the ports `start` chose (the configured ones, unless it had to pick others), and
# whether it started the HA kind.
load_ports() {
    # shellcheck disable=SC1090 # written by choose_ports
    if [[ -f "$PORTS_FILE" ]]; then source "$PORTS_FILE"; fi
    use_ha_ports
}

# use_ha_ports: scripts/ha.sh's ports are the tests' own, its proxy on the tests' MySQL port.
use_ha_ports() {
    [[ "${DC_TEST_HA:-0}" == 1 ]] || return 0
    DC_HA_ZK_PORTS=$DC_TEST_HA_ZK_PORTS
    DC_HA_ZK_QUORUM_PORTS=$DC_TEST_HA_ZK_QUORUM_PORTS
    DC_HA_ZK_ELECTION_PORTS=$DC_TEST_HA_ZK_ELECTION_PORTS
    DC_HA_MYSQL_PORTS=$DC_TEST_HA_MYSQL_PORTS
    DC_HA_GALERA_PORTS=$DC_TEST_HA_GALERA_PORTS
    DC_MYSQL_PORT=$DC_TEST_MYSQL_PORT
    MYSQL_DIR=$STATE/galera
}

# port_taken PORT: something listens on PORT or, for SeaweedFS's gRPC twin, on
# weed_grpc_port PORT.
port_taken() {
    tcp_open 127.0.0.1 "$1" || tcp_open 127.0.0.1 "$(weed_grpc_port "$1")" ||
        [[ -n "$(ip netns pids "$(s3_netns "$1")" 2>/dev/null)" ]]
}

# choose_ports: keep the configured ports where they are free; where another process (another
# checkout's test services, say) holds one, pick a free one instead, and remember the choice.
choose_ports() {
    local var port tries
    for var in "${PORT_VARS[@]}"; do
        if port_taken "${!var}"; then
            tries=0
            # 27000-29999: their gRPC twins (22000-24999) stay clear of the ports the
            # end-to-end tests take (11000-21999) and of the ephemeral range.
            port=$((27000 + RANDOM % 3000))
            while port_taken "$port" || [[ " ${PORTS_CHOSEN:-} " == *" $port "* ]] ||
                [[ " ${PORTS_CHOSEN:-} " == *" $(weed_grpc_port "$port") "* ]]; do
                ((++tries > 200)) && die "no free port for $var (tried 200)"
                port=$((27000 + RANDOM % 3000))
            done
            say "Port ${!var} ($var) is taken; the test services use $port instead"
            printf -v "$var" '%s' "$port"
        fi
        PORTS_CHOSEN="${PORTS_CHOSEN:-} ${!var} $(weed_grpc_port "${!var}")"
    done
    : >"$PORTS_FILE"
    for var in "${PORT_VARS[@]}"; do
        printf '%s=%s\n' "$var" "${!var}" >>"$PORTS_FILE"
    done
    printf 'DC_TEST_HA=%s\n' "${HA:-0}" >>"$PORTS_FILE"
}

cmd_start() {
    mkdir -p "$RUN_DIR" "$LOG_DIR"
    ensure_base_packages
    # libfaketime, for the clock-skew test (e2e/tests/fault_suite.rs); Prometheus and its
    # promtool, for e2e/tests/metrics.rs; headless Chromium, its chromedriver and a font, for
    # the web page's browser test (e2e/tests/ui.rs).
    ensure_debs faketime prometheus chromium chromium-driver fonts-dejavu-core
    ensure_weed
    ensure_schemathesis
    # Each run starts from empty ZooKeeper and S3 state (unless they are still running).
    local name any=0
    for name in "${SERVICES[@]}"; do running "$name" && any=1; done
    running zookeeper || rm -rf "$STATE/zookeeper"
    running s3 || rm -rf "$STATE/seaweedfs"
    running mysql || rm -rf "$MYSQL_DIR/data"
    if ((any)); then
        load_ports
        [[ "${DC_TEST_HA:-0}" == "${HA:-0}" ]] ||
            die "the test services run with HA=${DC_TEST_HA:-0}: scripts/test-services.sh down first"
    else
        choose_ports
        DC_TEST_HA=${HA:-0}
        rm -rf "$STATE"/zk-[123] "$STATE/galera"
        use_ha_ports
    fi
    ensure_s3_secrets "$S3_SECRETS" "$TEST_BUCKET"
    start_weed s3 "$STATE/seaweedfs" "$DC_TEST_S3_PORT" "$DC_TEST_WEED_MASTER_PORT" \
        "$DC_TEST_WEED_VOLUME_PORT" "$DC_TEST_WEED_FILER_PORT" "$S3_SECRETS"
    if [[ "$DC_TEST_HA" == 1 ]]; then
        start_zk_ensemble "$STATE"
        start_galera "$MYSQL_DIR"
        start_galera_proxy mysql-proxy
        return
    fi
    start_zookeeper zookeeper "$DC_TEST_ZK_PORT" "$STATE/zookeeper"
    start_mariadb mysql "$DC_TEST_MYSQL_PORT" "$MYSQL_DIR"
}

cmd_wait() {
    load_ports
    if [[ "${DC_TEST_HA:-0}" == 1 ]]; then
        wait_zk_ensemble
    else
        wait_for zookeeper "imok from 127.0.0.1:$DC_TEST_ZK_PORT" 60 zk_ok 127.0.0.1 "$DC_TEST_ZK_PORT"
    fi
    wait_for s3 "S3 at $(s3_endpoint "$DC_TEST_S3_PORT")" 90 weed_ok "$DC_TEST_S3_PORT" \
        "$DC_TEST_WEED_MASTER_PORT" "$DC_TEST_WEED_VOLUME_PORT" "$S3_SECRETS"
    ensure_s3_bucket "$DC_TEST_S3_PORT" "$S3_SECRETS" "$TEST_BUCKET"
    if [[ "${DC_TEST_HA:-0}" == 1 ]]; then
        wait_galera "$MYSQL_DIR"
        wait_mysql mysql-proxy "$DC_TEST_MYSQL_PORT" "$MYSQL_DIR"
    else
        wait_mysql mysql "$DC_TEST_MYSQL_PORT" "$MYSQL_DIR"
    fi
}

SERVICES=(s3 zookeeper mysql mysql-proxy "${HA_ZK_NODES[@]}" "${HA_MYSQL_NODES[@]}")

cmd_down() {
    load_ports
    local names=("$@")
    ((${#names[@]})) || names=("${SERVICES[@]}")
    mkdir -p "$RUN_DIR"
    local name any=0
    for name in "${names[@]}"; do
        [[ -f "$(pidfile "$name")" ]] && any=1
    done
    if ((any == 0)) && { (($# > 0)) || [[ -z "$(our_pids)" ]]; }; then
        say "No test service to stop"
        return 0
    fi
    stop_all "$WEED_STOP_TIMEOUT" "${names[@]}"
    if (($# == 0)); then
        sweep_strays
    fi
    # SeaweedFS's network namespace, once it is stopped.
    if [[ " ${names[*]} " == *" s3 "* ]] && ! running s3; then
        remove_s3_netns "$DC_TEST_S3_PORT"
    fi
    if ((${#STOPPED[@]})); then
        say "Stopped the test services: ${STOPPED[*]}"
    else
        say "No test service of ours was running"
    fi
}

cmd_running() {
    local name
    for name in "${SERVICES[@]}"; do
        running "$name" && echo "$name"
    done
    return 0
}

cmd_env() {
    load_ports
    local haproxy
    haproxy=$(command -v haproxy || echo haproxy)
    printf 'export %s=%q\n' \
        DC_TEST_ZK "$(if [[ "${DC_TEST_HA:-0}" == 1 ]]; then ha_zk_connect; else echo "127.0.0.1:$DC_TEST_ZK_PORT"; fi)" \
        DC_TEST_ZK_HOME "$DC_ZK_HOME" \
        DC_TEST_S3 "$(s3_endpoint "$DC_TEST_S3_PORT")" \
        DC_TEST_S3_KEYS "$S3_SECRETS" \
        DC_TEST_WEED_PORTS "$DC_TEST_WEED_MASTER_PORT $DC_TEST_WEED_VOLUME_PORT $DC_TEST_WEED_FILER_PORT" \
        DC_TEST_WEED "$DC_VENV/bin/weed" \
        DC_TEST_SCHEMATHESIS "$DC_VENV/bin/schemathesis" \
        DC_TEST_CHROMEDRIVER "$(command -v chromedriver || echo /usr/bin/chromedriver)" \
        DC_TEST_CHROMIUM "$(command -v chromium || echo /usr/bin/chromium)" \
        DC_TEST_MYSQL "$(mysql_admin_url "$DC_TEST_MYSQL_PORT" "$MYSQL_DIR")" \
        DC_TEST_HAPROXY "$haproxy" \
        DC_TEST_HAPROXY_CFG "$DC_ROOT/haproxy/haproxy.cfg" \
        DC_TEST_BIN_DIR "$(bin_dir)" \
        DC_TEST_LOG_DIR "$STATE/e2e"
}

case "${1:-}" in
start) cmd_start ;;
wait) cmd_wait ;;
up)
    cmd_start
    cmd_wait
    ;;
down)
    shift
    cmd_down "$@"
    ;;
running) cmd_running ;;
env) cmd_env ;;
*)
    echo "usage: $0 start|wait|up|down [NAME...]|running|env" >&2
    exit 2
    ;;
esac
