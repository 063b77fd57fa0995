#!/usr/bin/env bash
# scripts/launch.sh — the one place that knows how to run distcron's infrastructure servers:
# ZooKeeper, SeaweedFS and MariaDB. Each command writes what its server needs into DIR and
# execs it in the foreground (its pid is the caller's child's, its log is stdout and stderr).
# scripts/lib.sh runs it for `make up` and the test services, in the background with a pid
# file; the e2e harness (e2e/src/zookeeper.rs, s3.rs, mysql.rs) runs it for the private
# servers of tests that stop and restart them.
#
#   launch.sh zookeeper PORT DIR
#       A standalone ZooKeeper on 127.0.0.1:PORT, state in DIR (DC_ZK_HOME: where it is). As a
#       node of an ensemble: DC_ZK_ENSEMBLE, each node's `host:peer_port:election_port`
#       separated by spaces (node N is the Nth), and DC_ZK_MYID, this node's N.
#   launch.sh seaweedfs DIR S3_PORT MASTER_PORT VOLUME_PORT FILER_PORT
#       Master, volume server, filer and S3 gateway in one process, data in DIR. Options, from
#       the environment:
#         DC_WEED                the binary (default: $DC_VENV/bin/weed)
#         DC_WEED_GRPC_OFFSET    each gRPC port is its HTTP port plus this (default 10000, as
#                                SeaweedFS's own default)
#         DC_WEED_S3_BIND        the S3 gateway's address (default 127.0.0.1)
#         DC_WEED_SECRETS        a directory with s3.json (the identities) and security.toml
#                                (gRPC certificates), SeaweedFS's working directory; unset, the
#                                gateway accepts any credentials
#         DC_WEED_NETNS          run in this network namespace, with a private /tmp
#   launch.sh mariadb PORT DIR
#       A MariaDB server on 127.0.0.1:PORT, data in DIR/data (initialised if missing; root has
#       no password until an init file sets one). Options: DC_MARIADB_INIT_FILE (run at every
#       start), DC_MARIADB_BUFFER_POOL (default 256M). As a node of a Galera cluster:
#       DC_GALERA_NODES, every node's group-communication address `host:port` separated by
#       commas, DC_GALERA_NODE, this node's (its port + 1 receives incremental state
#       transfers, + 2 full ones, by rsync), and DC_GALERA_BOOTSTRAP=1 to start a new cluster
#       (the first node; the others join it).
set -euo pipefail

DC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/defaults.sh
source "$DC_ROOT/scripts/defaults.sh"

die() {
    echo "launch.sh: $*" >&2
    exit 1
}

zookeeper() {
    (($# == 2)) || die "usage: launch.sh zookeeper PORT DIR"
    local port=$1 dir=$2
    mkdir -p "$dir/data"
    chmod 700 "$dir"
    # tickTime 500 ms lets clients negotiate sessions from 1 s to 60 s.
    cat >"$dir/zoo.cfg" <<CFG
# Written by scripts/launch.sh; rewritten at every start.
tickTime=500
initLimit=10
syncLimit=5
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=0
minSessionTimeout=1000
maxSessionTimeout=60000
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,stat,mntr
autopurge.snapRetainCount=3
autopurge.purgeInterval=1
CFG
    if [[ -n "${DC_ZK_ENSEMBLE:-}" ]]; then
        [[ "${DC_ZK_MYID:-}" =~ ^[0-9]+$ ]] || die "DC_ZK_ENSEMBLE needs DC_ZK_MYID (this node's number)"
        local node n=0
        for node in $DC_ZK_ENSEMBLE; do
            n=$((n + 1))
            echo "server.$n=$node" >>"$dir/zoo.cfg"
        done
        ((DC_ZK_MYID >= 1 && DC_ZK_MYID <= n)) || die "DC_ZK_MYID $DC_ZK_MYID: the ensemble has $n nodes"
        echo "$DC_ZK_MYID" >"$dir/data/myid"
    fi
    local jvm="-Xms64m -Xmx512m"
    # Debian's zkEnv.sh overrides ZOOCFGDIR, ZOO_LOG_DIR and CLASSPATH, and its classpath has
    # no logging backend (ZooKeeper would log nothing). A later -cp wins: add log4j to it and
    # log to the console, which is our log.
    local j=/usr/share/java
    if [[ -f $j/zookeeper.jar && -f $j/slf4j-log4j12.jar && -f $j/log4j-1.2.jar && -d /etc/zookeeper/conf ]]; then
        jvm+=" -cp /etc/zookeeper/conf:$j/zookeeper.jar:$j/slf4j-log4j12.jar:$j/log4j-1.2.jar"
        jvm+=" -Dzookeeper.root.logger=INFO,CONSOLE"
    fi
    [[ -x "$DC_ZK_HOME/bin/zkServer.sh" ]] ||
        die "$DC_ZK_HOME/bin/zkServer.sh not found: install Debian's zookeeper (make up does)"
    # start-foreground execs java.
    ZOOCFGDIR="$dir" ZOO_LOG_DIR="$dir" JMXDISABLE=true SERVER_JVMFLAGS="$jvm" \
        exec "$DC_ZK_HOME/bin/zkServer.sh" start-foreground "$dir/zoo.cfg"
}

seaweedfs() {
    (($# == 5)) || die "usage: launch.sh seaweedfs DIR S3_PORT MASTER_PORT VOLUME_PORT FILER_PORT"
    local dir=$1 s3=$2 master=$3 volume=$4 filer=$5
    local weed=${DC_WEED:-$DC_VENV/bin/weed} offset=${DC_WEED_GRPC_OFFSET:-10000}
    [[ -x "$weed" ]] || die "$weed not found: make up and make test install SeaweedFS"
    mkdir -p "$dir"
    # SeaweedFS's files are the uploaded scripts and binaries: root's alone.
    chmod 700 "$dir"
    dir=$(realpath "$dir")
    # -master.electionTimeout=1s: a restarted single master elects itself in a second (10 s
    #   by default, during which nothing can be read).
    # -volume.preStopSeconds=0: no 10 s pause before the volume server stops.
    # -s3.port.iceberg=0 -s3.port.lance=0: these listen on fixed ports by default.
    # -master.telemetry=false: no reporting home.
    # -logtostderr: to our log only (else glog also writes files into /tmp).
    local args=(-logtostderr server -dir="$dir" -ip=127.0.0.1 -ip.bind=127.0.0.1
        -s3.ip.bind="${DC_WEED_S3_BIND:-127.0.0.1}"
        -master.port="$master" -master.port.grpc=$((master + offset))
        -master.electionTimeout=1s -master.telemetry=false -master.volumeSizeLimitMB=1024
        -volume.port="$volume" -volume.port.grpc=$((volume + offset)) -volume.preStopSeconds=0
        -filer.port="$filer" -filer.port.grpc=$((filer + offset))
        -s3 -s3.port="$s3" -s3.port.grpc=$((s3 + offset)) -s3.port.iceberg=0 -s3.port.lance=0)
    local secrets=${DC_WEED_SECRETS:-}
    if [[ -n "$secrets" ]]; then
        secrets=$(realpath "$secrets")
        args+=(-s3.config="$secrets/s3.json")
    fi
    if [[ -z "${DC_WEED_NETNS:-}" ]]; then
        [[ -z "$secrets" ]] || cd "$secrets"
        exec "$weed" "${args[@]}"
    fi
    # In the namespace: a private /tmp (for its unix sockets, which SeaweedFS puts in /tmp),
    # and the secrets directory as the working directory, where SeaweedFS finds security.toml.
    # The private /tmp hides the host's, where this checkout (or the virtualenv) may live: the
    # binary (fd 3), the data directory (fd 4) and the secrets directory (fd 5) are opened
    # first, and both directories bound back at their own paths.
    [[ -n "$secrets" ]] || die "DC_WEED_NETNS needs DC_WEED_SECRETS"
    # shellcheck disable=SC2016 # $0, $1, $2 and $@ are the inner shell's
    local inner='exec 3<"$1" 4<"$2" 5<"$0" && mount -t tmpfs -o mode=700 tmpfs /tmp &&
        mkdir -p "$0" "$2" && mount -c --bind /proc/self/fd/4 "$2" && mount -c --bind /proc/self/fd/5 "$0" &&
        cd "$0" && shift 2 && exec /proc/self/fd/3 "$@"'
    exec ip netns exec "$DC_WEED_NETNS" unshare --mount --propagation private \
        sh -c "$inner" "$secrets" "$weed" "$dir" "${args[@]}"
}

mariadb() {
    (($# == 2)) || die "usage: launch.sh mariadb PORT DIR"
    local port=$1 dir=$2 server install
    server=$(command -v mariadbd || echo /usr/sbin/mariadbd)
    install=$(command -v mariadb-install-db || echo /usr/bin/mariadb-install-db)
    [[ -x "$server" && -x "$install" ]] ||
        die "mariadbd or mariadb-install-db not found: install Debian's mariadb-server (make up does)"
    mkdir -p "$dir"
    chmod 700 "$dir"
    # A Galera node runs as Debian's mysql user: a joiner receives its state by an rsync
    # daemon, which, started by root, would switch to nobody and be refused its own directory.
    local user=root
    if [[ -n "${DC_GALERA_NODES:-}" ]]; then
        user=mysql
        chown -R mysql:mysql "$dir"
    fi
    # Its temporary files in a directory of its own, not in the /tmp it shares with others.
    mkdir -p "$dir/tmp"
    chown "$user:" "$dir/tmp"
    chmod 700 "$dir/tmp"
    # An installation that did not finish (the marker beside the data) is made again.
    if [[ ! -d "$dir/data/mysql" || -f "$dir/installing" ]]; then
        echo "launch.sh: initialising MariaDB's data directory $dir/data"
        touch "$dir/installing"
        rm -rf "$dir/data"
        "$install" --no-defaults --user="$user" --datadir="$dir/data" --tmpdir="$dir/tmp" \
            --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1 ||
            die "mariadb-install-db failed: $(grep -m3 -E 'ERROR|error' "$dir/install.log")"
        rm -f "$dir/installing"
    fi
    local args=(--no-defaults --user="$user" --datadir="$dir/data" --bind-address=127.0.0.1
        --port="$port" --socket="$dir/mariadbd.sock" --pid-file="$dir/mariadbd.pid" --tmpdir="$dir/tmp"
        --skip-log-bin --skip-name-resolve --max-connections=1000
        --innodb-buffer-pool-size="${DC_MARIADB_BUFFER_POOL:-256M}")
    [[ -z "${DC_MARIADB_INIT_FILE:-}" ]] || args+=(--init-file="$DC_MARIADB_INIT_FILE")
    [[ -z "${DC_GALERA_NODES:-}" ]] || galera_args "$dir"
    exec "$server" "${args[@]}"
}

# galera_args DIR: the Galera settings distcron needs (DEVELOPERS.md, "MySQL as a Galera
# cluster"), added to mariadb's args.
galera_args() {
    local provider=/usr/lib/galera/libgalera_smm.so node=${DC_GALERA_NODE:-}
    [[ -f "$provider" ]] || die "$provider not found: install Debian's galera-4 (make up HA=1 does)"
    [[ "$node" =~ ^[0-9.]+:[0-9]+$ ]] || die "DC_GALERA_NODES needs DC_GALERA_NODE (host:port)"
    local host=${node%:*} port=${node##*:}
    args+=(--wsrep-on=ON --wsrep-provider="$provider" --wsrep-cluster-name=distcron
        --wsrep-cluster-address="gcomm://$DC_GALERA_NODES" --wsrep-node-address="$node"
        --wsrep-node-name="$(basename "$1")"
        --wsrep-provider-options="gmcast.listen_addr=tcp://$host:$port;ist.recv_addr=$host:$((port + 1))"
        --wsrep-sst-method=rsync --wsrep-sst-receive-address="$host:$((port + 2))"
        --binlog-format=ROW --innodb-autoinc-lock-mode=2 --default-storage-engine=InnoDB
        --wsrep-slave-threads=2
        # Causal reads, updates and inserts: a statement waits until the node has applied
        # every transaction committed anywhere before it began. Without it, a node that takes
        # over (or a worker on another node) can miss a job just made (a foreign key refuses
        # its run) or a run just recorded.
        --wsrep-sync-wait=7
        # HAProxy's check (haproxy/galera.cfg) reads the greeting and hangs up, every second:
        # not worth a warning each time.
        --log-warnings=1)
    if [[ "${DC_GALERA_BOOTSTRAP:-}" == 1 ]]; then
        args+=(--wsrep-new-cluster)
    fi
}

case "${1:-}" in
zookeeper | seaweedfs | mariadb)
    command=$1
    shift
    "$command" "$@"
    ;;
*) die "usage: launch.sh zookeeper|seaweedfs|mariadb ARGS... (see the top of this file)" ;;
esac
