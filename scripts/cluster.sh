#!/usr/bin/env bash
# scripts/cluster.sh — the local distcron cluster on this machine (behind make up/down/clean/
# status/logs).
#
#   up      install what is missing (ZooKeeper, HAProxy, SeaweedFS, MariaDB), build the
#           binaries, start ZooKeeper, SeaweedFS S3, a MariaDB of the cluster's own, 2 API
#           servers, 2 managers, 3 workers and HAProxy, and wait until all answer.
#           HA=1: a ZooKeeper ensemble of three and a Galera cluster of three MariaDB nodes
#           behind an HAProxy of their own (scripts/ha.sh) instead of the single ones; the
#           distcron processes are the same. `down`, `status` and `logs` take either.
#           Running it again leaves a running cluster alone and starts what is missing
#           (and restarts a distcron process whose binary was rebuilt or is another one, as
#           after a change of PROFILE, and HAProxy if its config changed).
#   down    stop every process `up` started (by pid file); keep the data.
#   clean   down, then delete .distcron/ (data, logs, tokens, the SeaweedFS virtualenv).
#   status  what runs, where, and whether it answers.
#   logs    the end of every log (FOLLOW=1 to follow, NAME=api-1 for one component, N=100 lines).
#
# State, logs (.distcron/logs/<name>.log) and pid files (.distcron/run/<name>.pid) live under
# .distcron/ in the checkout. Ports and paths: scripts/defaults.sh, all overridable from the
# environment.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STATE=$DC_STATE_DIR
RUN_DIR=$STATE/run
LOG_DIR=$STATE/logs
ADMIN_TOKEN_FILE=$STATE/admin.token
INTERNAL_TOKEN_FILE=$STATE/internal.token
ZK_SECRET_FILE=$STATE/zookeeper.secret
HA=${HA:-0}
[[ "$HA" == 0 || "$HA" == 1 ]] || die "HA=$HA: HA=1 for the highly available cluster, else nothing"
# Root's and the roles' MySQL passwords live here, beside the server's data (the Galera
# nodes' in galera/mysql-N).
if [[ "$HA" == 1 ]]; then MYSQL_DIR=$STATE/galera; else MYSQL_DIR=$STATE/mariadb; fi
# SeaweedFS's identities and certificates (scripts/s3.sh), and the bucket.
S3_SECRETS=$STATE/s3
S3_BUCKET=${DISTCRON_S3__BUCKET:-distcron}
# Each process's secrets, in a settings file of its own (mode 600; see write_config).
CONFIG_DIR=$STATE/config
HAPROXY_CFG=$DC_ROOT/haproxy/haproxy.cfg
# HAProxy's HTTPS: a self-signed certificate (public, for curl --cacert) and the same with its
# private key in one PEM (mode 600), which HAProxy serves; see ensure_tls_cert.
TLS_DIR=$STATE/tls
TLS_CERT=$TLS_DIR/cert.pem
TLS_PEM=$TLS_DIR/haproxy.pem
# The password of HAProxy's stats page (user stats), mode 600.
STATS_PASSWORD_FILE=$STATE/haproxy-stats.password

MANAGERS=(manager-1 manager-2)
APIS=(api-1 api-2)
WORKERS=(worker-1 worker-2 worker-3)
# The infrastructure of either kind of cluster.
SINGLE_INFRA=(zookeeper mysql)
HA_INFRA=("${HA_ZK_NODES[@]}" "${HA_MYSQL_NODES[@]}" mysql-proxy)
if [[ "$HA" == 1 ]]; then INFRA=("${HA_INFRA[@]}"); else INFRA=("${SINGLE_INFRA[@]}"); fi
# Start order (`status` shows them so).
ALL=("${INFRA[@]}" s3 "${MANAGERS[@]}" "${APIS[@]}" "${WORKERS[@]}" haproxy)

# listen_of NAME: the address a distcron process or HAProxy listens on.
listen_of() {
    case "$1" in
    api-1) echo "$DC_API_1" ;;
    api-2) echo "$DC_API_2" ;;
    manager-1) echo "$DC_MANAGER_1" ;;
    manager-2) echo "$DC_MANAGER_2" ;;
    worker-1) echo "$DC_WORKER_1" ;;
    worker-2) echo "$DC_WORKER_2" ;;
    worker-3) echo "$DC_WORKER_3" ;;
    haproxy) echo "$DC_HAPROXY_BIND" ;;
    zookeeper) echo "127.0.0.1:$DC_ZK_PORT" ;;
    s3) echo "$(s3_ip "$DC_S3_PORT"):$DC_S3_PORT" ;;
    mysql | mysql-proxy) echo "127.0.0.1:$DC_MYSQL_PORT" ;;
    zk-[123]) echo "127.0.0.1:$(nth "${1#zk-}" "$DC_HA_ZK_PORTS")" ;;
    mysql-[123]) echo "127.0.0.1:$(nth "${1#mysql-}" "$DC_HA_MYSQL_PORTS")" ;;
    esac
}

# nth N WORDS: the Nth of the words.
nth() {
    local words
    read -r -a words <<<"$2"
    echo "${words[$(($1 - 1))]}"
}

# zookeeper_servers: the processes' ZooKeeper connect string.
zookeeper_servers() {
    if [[ "$HA" == 1 ]]; then ha_zk_connect; else echo "127.0.0.1:$DC_ZK_PORT"; fi
}

# The environment of the distcron processes: the user's environment, where the scripts' own
# knobs (DC_*, scripts/defaults.sh) are no settings of the binaries, plus the shared settings
# below. Settings the user exported (DISTCRON_ZOOKEEPER__SESSION_TIMEOUT_MS, ...) reach every
# process, so they must be settings every process has: each refuses a DISTCRON_* variable it
# does not know. A setting of one role goes in DC_API_ENV, DC_MANAGER_ENV or DC_WORKER_ENV
# (space-separated NAME=value words), e.g. DC_WORKER_ENV="DISTCRON_CGROUPS=off".
distcron_env() {
    PROC_ENV=(
        # The command line's own (cli/): no process has them, and each would refuse them.
        -u DISTCRON_URL -u DISTCRON_TOKEN
        "DISTCRON_ZOOKEEPER__SERVERS=$(zookeeper_servers)"
        "DISTCRON_LOG_FORMAT=${DISTCRON_LOG_FORMAT:-text}"
        "RUST_LOG=${RUST_LOG:-info}"
    )
    S3_ENV=(
        "DISTCRON_S3__ENDPOINT=$(s3_endpoint "$DC_S3_PORT")"
        "DISTCRON_S3__BUCKET=$S3_BUCKET"
    )
    read -ra API_ENV <<<"${DC_API_ENV:-}"
    read -ra MANAGER_ENV <<<"${DC_MANAGER_ENV:-}"
    read -ra WORKER_ENV <<<"${DC_WORKER_ENV:-}"
}

# mysql_url_of NAME: the MySQL account process NAME logs in with: its role's own (see
# grant_accounts), or the administrator's for the migrations.
mysql_url_of() {
    local role
    case "$1" in
    migrate) mysql_admin_url "$DC_MYSQL_PORT" "$MYSQL_DIR" "$DC_MYSQL_DATABASE"; return ;;
    manager-*) role=manager ;;
    api-*) role=api ;;
    worker-*) role=worker ;;
    esac
    echo "mysql://distcron_$role:$(<"$MYSQL_DIR/$role.password")@127.0.0.1:$DC_MYSQL_PORT/$DC_MYSQL_DATABASE"
}

# grant_accounts MANAGER_BINARY: the accounts of the three roles, each with its own generated
# password and only its grants (distcron-manager grant), made again at every start.
grant_accounts() {
    local role
    for role in api manager worker; do
        ensure_password "$MYSQL_DIR/$role.password"
        env "${PROC_ENV[@]}" "$(write_config migrate)" "$1" grant --role "$role" \
            --user "distcron_$role" --host 127.0.0.1 --password-file "$MYSQL_DIR/$role.password" \
            >>"$LOG_DIR/migrate.log" 2>&1 ||
            die "could not set up MySQL's $role account (see $LOG_DIR/migrate.log)"
    done
}

# write_config NAME: the settings file holding the secrets of process NAME (the MySQL URL, the
# ZooKeeper credentials, the S3 keys, the internal token), mode 600 in a directory of mode 700:
# secrets never go on a command line (which anyone can read in /proc) or into a log.
write_config() {
    local name=$1 file="$CONFIG_DIR/$1.toml"
    mkdir -p "$CONFIG_DIR"
    chmod 700 "$CONFIG_DIR"
    (
        umask 077
        {
            echo "# Written by scripts/cluster.sh at every start; secrets of $name."
            case "$name" in
            manager-* | api-* | migrate) echo "internal_token = \"$(<"$INTERNAL_TOKEN_FILE")\"" ;;
            esac
            echo "[zookeeper]"
            echo "digest = \"$(<"$ZK_SECRET_FILE")\""
            echo "[mysql]"
            echo "url = \"$(mysql_url_of "$name")\""
            case "$name" in
            api-* | worker-* | manager-*)
                # Each role's own S3 identity: API servers read and write, workers only read,
                # managers list, read and delete (the sweep of unused blobs).
                local access secret
                read -r access secret <<<"$(s3_keys "$S3_SECRETS" "${name%%-*}")"
                echo "[s3]"
                echo "access_key_id = \"$access\""
                echo "secret_access_key = \"$secret\""
                ;;
            esac
        } >"$file.tmp"
        mv "$file.tmp" "$file"
    )
    echo "DISTCRON_CONFIG=$file"
}

# ensure_secret FILE PREFIX: PREFIX followed by 32 random hex characters, made once, mode 600
# (the ZooKeeper digest credentials: `distcron:<password>`).
ensure_secret() {
    if [[ -s "$1" ]] && grep -qxE "$2[0-9a-f]{32}" "$1"; then
        chmod 600 "$1"
        return 0
    fi
    (
        umask 077
        printf '%s%s' "$2" "$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')" >"$1.tmp"
        mv "$1.tmp" "$1"
    )
    say "Generated $1"
}

# ensure_tls_cert: the local cluster's HTTPS certificate, made once (again when it expires
# within a day): self-signed, CN and SAN localhost, SAN IP 127.0.0.1, an EC P-256 key. The key
# is written under umask 077 and stays in $TLS_PEM alone (mode 600, root's); the certificate
# is public (mode 644), in a directory others may pass through, so that users can give it to
# curl --cacert.
ensure_tls_cert() {
    if [[ -s "$TLS_PEM" && -s "$TLS_CERT" ]] &&
        openssl x509 -checkend 86400 -noout -in "$TLS_CERT" >/dev/null 2>&1; then
        chmod 600 "$TLS_PEM"
        return 0
    fi
    mkdir -p "$TLS_DIR"
    chmod 711 "$TLS_DIR"
    (
        umask 077
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
            -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
            -keyout "$TLS_DIR/key.pem.tmp" -out "$TLS_CERT.tmp" >>"$LOG_DIR/openssl.log" 2>&1 ||
            die "openssl could not make HAProxy's certificate (see $LOG_DIR/openssl.log)"
        cat "$TLS_CERT.tmp" "$TLS_DIR/key.pem.tmp" >"$TLS_PEM.tmp"
        rm -f "$TLS_DIR/key.pem.tmp"
        mv "$TLS_PEM.tmp" "$TLS_PEM"
        chmod 644 "$TLS_CERT.tmp"
        mv "$TLS_CERT.tmp" "$TLS_CERT"
    )
    say "Generated $TLS_CERT (HAProxy's HTTPS certificate; its key is in $TLS_PEM)"
}

# ensure_token FILE: 32 random bytes as 64 hex characters, made once, mode 600.
ensure_token() {
    if [[ -s "$1" ]] && grep -qxE '[0-9a-f]{64}' "$1"; then
        chmod 600 "$1"
        return 0
    fi
    (
        umask 077
        od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$1.tmp"
        mv "$1.tmp" "$1"
    )
    say "Generated $1"
}

cmd_up() {
    local t0=$SECONDS
    mkdir -p "$STATE" "$RUN_DIR" "$LOG_DIR"
    # Runs (other users) may pass through .distcron/ (to a run directory of their own, where
    # a worker cannot give them a private /tmp) but not list it, and reach nothing else: the
    # logs, pid files, settings and the services' data are root's alone.
    chmod 711 "$STATE"
    chmod 700 "$RUN_DIR" "$LOG_DIR"
    chmod 600 "$LOG_DIR"/*.log 2>/dev/null || true
    trap 'up_failed $?' EXIT

    say "Checking what needs installing"
    ensure_base_packages
    ensure_weed
    ensure_token "$ADMIN_TOKEN_FILE"
    ensure_token "$INTERNAL_TOKEN_FILE"
    refuse_other_kind
    # ZooKeeper holds nothing MySQL does not (the leader rebuilds tasks and assignments from
    # it): state from before the cluster had ZooKeeper credentials, open to anyone, is dropped.
    if [[ "$HA" == 0 && ! -s "$ZK_SECRET_FILE" && -d "$STATE/zookeeper/data" ]] && ! running zookeeper; then
        say "ZooKeeper's data predates its credentials: starting it empty (the leader rebuilds it from MySQL)"
        rm -rf "$STATE/zookeeper/data"
    fi
    ensure_secret "$ZK_SECRET_FILE" "distcron:"
    ensure_token "$STATS_PASSWORD_FILE"
    ensure_tls_cert
    haproxy_check

    # Start the infrastructure first, so it boots while the binaries build.
    if [[ "$HA" == 1 ]]; then
        start_zk_ensemble "$STATE"
    else
        start_zookeeper zookeeper "$DC_ZK_PORT" "$STATE/zookeeper"
    fi
    ensure_s3_secrets "$S3_SECRETS" "$S3_BUCKET"
    start_weed s3 "$STATE/seaweedfs" "$DC_S3_PORT" "$DC_WEED_MASTER_PORT" \
        "$DC_WEED_VOLUME_PORT" "$DC_WEED_FILER_PORT" "$S3_SECRETS"
    if [[ "$HA" == 1 ]]; then
        start_galera "$MYSQL_DIR"
        start_galera_proxy mysql-proxy
    else
        start_mariadb mysql "$DC_MYSQL_PORT" "$MYSQL_DIR"
    fi

    build_binaries
    local api manager worker
    api=$(require_binary distcron-api)
    # The command line (cli/), for the last words below; not needed to run the cluster.
    local cli
    cli="$(bin_dir)/distcron"
    [[ -x "$cli" ]] || cli=distcron
    manager=$(require_binary distcron-manager)
    worker=$(require_binary distcron-worker)

    if [[ "$HA" == 1 ]]; then
        wait_zk_ensemble
    else
        wait_for zookeeper "imok from 127.0.0.1:$DC_ZK_PORT" 60 zk_ok 127.0.0.1 "$DC_ZK_PORT"
    fi
    wait_for s3 "S3 at $(s3_endpoint "$DC_S3_PORT")" 90 weed_ok "$DC_S3_PORT" \
        "$DC_WEED_MASTER_PORT" "$DC_WEED_VOLUME_PORT" "$S3_SECRETS"
    ensure_s3_bucket "$DC_S3_PORT" "$S3_SECRETS" "$S3_BUCKET"
    if [[ "$HA" == 1 ]]; then
        wait_galera "$MYSQL_DIR"
        wait_mysql mysql-proxy "$DC_MYSQL_PORT" "$MYSQL_DIR"
    else
        wait_mysql mysql "$DC_MYSQL_PORT" "$MYSQL_DIR"
    fi

    distcron_env
    local name addr

    say "Applying the database migrations: distcron-manager migrate"
    printf '\n===== %s: distcron-manager migrate\n' "$(date '+%F %T')" >>"$LOG_DIR/migrate.log"
    if ! env "${PROC_ENV[@]}" "$(write_config migrate)" "$manager" migrate 2>&1 | tee -a "$LOG_DIR/migrate.log"; then
        die "distcron-manager migrate failed (output above, also in $LOG_DIR/migrate.log)"
    fi
    grant_accounts "$manager"

    for name in "${MANAGERS[@]}"; do
        restart_if_outdated "$name" "$manager"
        addr=$(listen_of "$name")
        running "$name" || require_port_free "$name" "$(host_of "$addr")" "$(port_of "$addr")"
        start_bg "$name" env "${PROC_ENV[@]}" "${S3_ENV[@]}" "$(write_config "$name")" \
            "DISTCRON_LISTEN=$addr" "DISTCRON_MANAGER_ID=$name" \
            "DISTCRON_BOOTSTRAP_ADMIN_TOKEN_FILE=$ADMIN_TOKEN_FILE" \
            "${MANAGER_ENV[@]}" "$manager"
    done
    for name in "${APIS[@]}"; do
        restart_if_outdated "$name" "$api"
        addr=$(listen_of "$name")
        running "$name" || require_port_free "$name" "$(host_of "$addr")" "$(port_of "$addr")"
        start_bg "$name" env "${PROC_ENV[@]}" "${S3_ENV[@]}" "$(write_config "$name")" \
            "DISTCRON_LISTEN=$addr" "${API_ENV[@]}" \
            "$api"
    done
    for name in "${WORKERS[@]}"; do
        restart_if_outdated "$name" "$worker"
        addr=$(listen_of "$name")
        running "$name" || require_port_free "$name" "$(host_of "$addr")" "$(port_of "$addr")"
        mkdir -p "$STATE/workers/$name"
        start_bg "$name" env "${PROC_ENV[@]}" "${S3_ENV[@]}" "$(write_config "$name")" \
            "DISTCRON_WORKER_ID=$name" "DISTCRON_LISTEN=$addr" \
            "DISTCRON_WORK_DIR=$STATE/workers/$name" \
            "${WORKER_ENV[@]}" "$worker"
    done
    if running haproxy && [[ "$HAPROXY_CFG" -nt "$(pidfile haproxy)" ]]; then
        say "$HAPROXY_CFG changed since HAProxy started: restarting it"
        stop_all 10 haproxy
    fi
    if running haproxy && [[ "$TLS_PEM" -nt "$(pidfile haproxy)" ]]; then
        say "HAProxy's certificate changed since HAProxy started: restarting it"
        stop_all 10 haproxy
    fi
    if ! running haproxy; then
        require_port_free haproxy "$(host_of "$DC_HAPROXY_BIND")" "$(port_of "$DC_HAPROXY_BIND")"
        require_port_free haproxy "$(host_of "$DC_HAPROXY_TLS_BIND")" "$(port_of "$DC_HAPROXY_TLS_BIND")"
        require_port_free haproxy "$(host_of "$DC_HAPROXY_STATS_BIND")" "$(port_of "$DC_HAPROXY_STATS_BIND")"
    fi
    (
        haproxy_secret_env
        start_bg haproxy env "${HAPROXY_ENV[@]}" haproxy -db -f "$HAPROXY_CFG"
    )

    for name in "${MANAGERS[@]}" "${APIS[@]}" "${WORKERS[@]}"; do
        wait_for "$name" "200 from http://$(listen_of "$name")/healthz" 30 http_ok "http://$(listen_of "$name")/healthz"
    done
    wait_for haproxy "an answer on $DC_HAPROXY_BIND" 15 tcp_open "$(host_of "$DC_HAPROXY_BIND")" "$(port_of "$DC_HAPROXY_BIND")"
    # As `localhost`, a name the certificate holds, whatever address HAProxy binds.
    wait_for haproxy "HTTPS on $DC_HAPROXY_TLS_BIND with $TLS_CERT" 15 \
        curl -fsS -o /dev/null --max-time 2 --cacert "$TLS_CERT" \
        --resolve "localhost:$(port_of "$DC_HAPROXY_TLS_BIND"):$(host_of "$DC_HAPROXY_TLS_BIND")" \
        "https://localhost:$(port_of "$DC_HAPROXY_TLS_BIND")/healthz"
    readyz_through_haproxy

    trap - EXIT
    cat <<EOF

${C_GREEN}distcron is up${C_OFF} (in $((SECONDS - t0))s).
  Web page:               http://$DC_HAPROXY_BIND/  (sign in with the admin token below)
  API, through HAProxy:   http://$DC_HAPROXY_BIND
                          https://$DC_HAPROXY_TLS_BIND  (curl --cacert $TLS_CERT)
  Admin's API token:      $ADMIN_TOKEN_FILE  (user admin)
  Command line:           $cli login --url http://$DC_HAPROXY_BIND <$ADMIN_TOKEN_FILE
                          (then: $cli jobs list; or export DISTCRON_URL and DISTCRON_TOKEN)
  HAProxy stats:          http://$DC_HAPROXY_STATS_BIND/  (user stats, password in $STATS_PASSWORD_FILE)
  Logs:                   $LOG_DIR/<name>.log  (make logs, make status)
  Stop:                   make down  (keeps the data; make clean deletes it)
EOF
}

# restart_if_outdated NAME BINARY: a running distcron process that is not running BINARY (say,
# a debug build when PROFILE=release), or runs a build that has been replaced since it
# started, is stopped here, to be started again with the current build.
restart_if_outdated() {
    local name=$1 binary=$2 pid exe
    running "$name" || return 0
    pid=$(recorded_pid "$name")
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
    if [[ "$exe" == *" (deleted)" ]]; then
        say "$name runs a build that has since been replaced: restarting it"
    elif ! tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF "$binary"; then
        say "$name does not run $binary: restarting it"
    else
        return 0
    fi
    stop_all 20 "$name"
}

# On a failed `up`, what did start is left running, to be looked at.
up_failed() {
    (($1 == 0)) && return 0
    printf '\nmake up failed. What had started is left running for a look (make status, make logs);\nmake down stops it.\n' >&2
}

# The addresses and files haproxy/haproxy.cfg reads (it has the same defaults but for the
# certificate's path; exported all the same). Its other knobs (DC_HAPROXY_AUTH_FAILURES,
# DC_HAPROXY_HEADER_TIMEOUT, DC_HAPROXY_STATS_USER) pass through when exported.
HAPROXY_ENV=(
    "DC_HAPROXY_BIND=$DC_HAPROXY_BIND"
    "DC_HAPROXY_TLS_BIND=$DC_HAPROXY_TLS_BIND"
    "DC_HAPROXY_TLS_CERT=$TLS_PEM"
    "DC_HAPROXY_STATS_BIND=$DC_HAPROXY_STATS_BIND"
    "DC_API_1=$DC_API_1"
    "DC_API_2=$DC_API_2"
)

# haproxy_secret_env: the stats page's password, exported for HAProxy (call it in a subshell):
# in the environment, never on a command line, which anyone can read in /proc.
haproxy_secret_env() {
    DC_HAPROXY_STATS_PASSWORD=$(<"$STATS_PASSWORD_FILE")
    export DC_HAPROXY_STATS_PASSWORD
}

haproxy_check() {
    local out
    out=$(
        haproxy_secret_env
        env "${HAPROXY_ENV[@]}" haproxy -c -f "$HAPROXY_CFG" 2>&1
    ) || die "$(printf 'HAProxy refuses %s:\n%s' "$HAPROXY_CFG" "$out")"
}

# /readyz is for operators: it takes a user's token. The admin's also proves the leader
# manager has set up the bootstrap admin.
admin_auth() {
    local token=""
    [[ -r "$ADMIN_TOKEN_FILE" ]] && token=$(<"$ADMIN_TOKEN_FILE")
    printf 'Authorization: Bearer %s' "$token"
}

# The cluster is ready when /readyz answers 200 from an API server (ZooKeeper, MySQL, S3 and
# the leader manager reachable), then through HAProxy. Until the leader has set up the admin,
# the token gets 401s: they are asked of the API server itself, since HAProxy counts 401s per
# client address and throttles addresses with many (haproxy/haproxy.cfg).
readyz_through_haproxy() {
    readyz_of "http://$DC_API_1/readyz"
    readyz_of "http://$DC_HAPROXY_BIND/readyz"
}

# readyz_of URL: waits (90 s at most) for 200 from URL with the admin token.
readyz_of() {
    local url=$1 end=$((SECONDS + 90)) code
    until [[ "$(http_code "$url" -H "$(admin_auth)")" == 200 ]]; do
        for name in "${ALL[@]}"; do
            if [[ -f "$(pidfile "$name")" ]] && ! running "$name"; then
                fail_component "$name" "its process exited while we waited for 200 from $url"
            fi
        done
        if ((SECONDS >= end)); then
            code=$(http_code "$url" -H "$(admin_auth)")
            printf '%serror:%s the cluster did not become ready: %s answers %s, not 200 (within 90s, with the admin token).\n' "$C_RED" "$C_OFF" "$url" "$code" >&2
            curl -s --max-time 2 -H "$(admin_auth)" "$url" 2>/dev/null | head -c 2000 >&2 || true
            printf '\nLast lines of the API servers and managers logs:\n' >&2
            for name in "${APIS[@]}" "${MANAGERS[@]}"; do
                printf '  %s:\n' "$(logfile "$name")" >&2
                tail -n 8 "$(logfile "$name")" 2>/dev/null | sed 's/^/    /' >&2 || true
            done
            exit 1
        fi
        sleep 0.5
    done
    say "The cluster is ready (200 from $url)"
}

# refuse_other_kind: `up` does not start one kind of cluster (HA=1 or not) while the other's
# infrastructure runs: they share ports.
refuse_other_kind() {
    local name other=("${HA_INFRA[@]}") kind="HA=1"
    [[ "$HA" == 1 ]] && other=("${SINGLE_INFRA[@]}") kind="without HA=1"
    for name in "${other[@]}"; do
        running "$name" && die "the local cluster runs $kind ($name is up): make down first"
    done
    return 0
}

cmd_down() {
    mkdir -p "$RUN_DIR"
    local any=0 name
    for name in "${ALL[@]}" "${SINGLE_INFRA[@]}" "${HA_INFRA[@]}"; do
        [[ -f "$(pidfile "$name")" ]] && any=1
    done
    if ((any == 0)) && [[ -z "$(our_pids)" ]]; then
        say "Nothing of the local cluster is running"
        return 0
    fi
    # Front to back: no new requests, then the services, then what they depend on.
    stop_all 10 haproxy
    stop_all 20 "${APIS[@]}" "${WORKERS[@]}"
    stop_all 20 "${MANAGERS[@]}"
    stop_all 10 mysql-proxy
    stop_all "$WEED_STOP_TIMEOUT" s3 "${SINGLE_INFRA[@]}" "${HA_ZK_NODES[@]}"
    # One Galera node after the other, so that the last one is safe to start the cluster from.
    local node
    for node in "${HA_MYSQL_NODES[@]}"; do stop_all 60 "$node"; done
    sweep_strays
    running s3 || remove_s3_netns "$DC_S3_PORT"
    say "The local cluster is stopped (data kept in $STATE)"
}

cmd_clean() {
    cmd_down
    # The test services keep their state under .distcron/test: stop them before deleting it.
    if [[ -d "$DC_TEST_STATE_DIR/run" ]]; then
        "$DC_ROOT/scripts/test-services.sh" down
    fi
    case "$STATE" in
    "" | / | "$HOME" | "$DC_ROOT") die "refusing to delete '$STATE'" ;;
    esac
    # Anything else these scripts started with its state in there (test services started with
    # another DC_TEST_STATE_DIR, say) would lose its state and pid files: stop it too.
    RUN_DIR=$STATE sweep_strays
    if [[ -e "$STATE" ]]; then
        rm -rf -- "$STATE"
        say "Deleted $STATE"
    fi
}

cmd_status() {
    local name pid state addr check
    printf '%-11s %-8s %-9s %-22s %s\n' NAME PID STATE ADDRESS CHECK
    for name in "${ALL[@]}"; do
        addr=$(listen_of "$name")
        pid=$(recorded_pid "$name" || true)
        if running "$name"; then
            state=running
        elif [[ -n "$pid" ]]; then
            state=dead
        else
            state=stopped
            pid=-
        fi
        case "$name" in
        zookeeper) zk_ok 127.0.0.1 "$DC_ZK_PORT" && check=imok || check=- ;;
        zk-*) check=$(zk_mode 127.0.0.1 "$(port_of "$addr")") && [[ -n "$check" ]] || check=- ;;
        mysql-[123])
            if galera_synced "$(port_of "$addr")" "$MYSQL_DIR/root.password"; then
                check=synced
            else
                check=-
            fi
            ;;
        s3) check=$(s3_admin_curl "$DC_S3_PORT" "$S3_SECRETS" /) ;;
        mysql | mysql-proxy)
            if mysql_ok 127.0.0.1 "$DC_MYSQL_PORT"; then
                check=answers
            else
                check=-
            fi
            ;;
        haproxy) check="readyz $(http_code "http://$addr/readyz" -H "$(admin_auth)")" ;;
        *) check="healthz $(http_code "http://$addr/healthz")" ;;
        esac
        printf '%-11s %-8s %-9s %-22s %s\n' "$name" "$pid" "$state" "$addr" "$check"
    done
    printf '\nLogs in %s; admin token in %s\n' "$LOG_DIR" "$ADMIN_TOKEN_FILE"
}

cmd_logs() {
    local files=() name
    if [[ -n "${NAME:-}" ]]; then
        for name in $NAME; do files+=("$(logfile "$name")"); done
    else
        shopt -s nullglob
        files=("$LOG_DIR"/*.log)
    fi
    ((${#files[@]})) || die "no logs in $LOG_DIR (has the cluster ever run?)"
    if [[ "${FOLLOW:-0}" == 1 ]]; then
        exec tail -n "${N:-20}" -F "${files[@]}"
    fi
    tail -n "${N:-40}" "${files[@]}"
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
clean) cmd_clean ;;
status) cmd_status ;;
logs) cmd_logs ;;
*)
    echo "usage: $0 up|down|clean|status|logs" >&2
    exit 2
    ;;
esac
