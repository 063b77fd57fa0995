# shellcheck shell=bash
# scripts/ha.sh — the highly available infrastructure of `make up HA=1`: a ZooKeeper ensemble
# of three, a Galera cluster of three MariaDB nodes, and an HAProxy in TCP mode in front of the
# Galera nodes (haproxy/galera.cfg). Sourced by lib.sh, never run. Ports: scripts/defaults.sh
# (DC_HA_*). The callers set RUN_DIR and LOG_DIR, as for lib.sh's process helpers.
#
# Why HAProxy in front of Galera rather than three addresses given to the processes: sqlx's
# MySQL URL names one server, and writing through one node at a time (the others are backups)
# keeps Galera's certification conflicts to the moments of a failover, where distcron already
# retries: a write that loses one is refused at COMMIT with a deadlock (1213), which the store
# reports as MySQL being unavailable (try again), and the run-row fence still holds
# (DEVELOPERS.md, "MySQL as a Galera cluster").

HA_ZK_NODES=(zk-1 zk-2 zk-3)
HA_MYSQL_NODES=(mysql-1 mysql-2 mysql-3)

# ha_zk_connect: the ensemble's client addresses, as a ZooKeeper connect string.
ha_zk_connect() {
    local port out=()
    for port in $DC_HA_ZK_PORTS; do out+=("127.0.0.1:$port"); done
    (
        IFS=,
        echo "${out[*]}"
    )
}

# zk_mode HOST PORT: `leader`, `follower` or `standalone` once the node serves (in a quorum).
zk_mode() {
    # shellcheck disable=SC2016 # $0 and $1 are the inner bash's
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"; printf srvr >&3; cat <&3' "$1" "$2" 2>/dev/null |
        sed -n 's/^Mode: //p'
}

# zk_serving HOST PORT: the node is part of a quorum.
zk_serving() {
    [[ "$(zk_mode "$1" "$2")" =~ ^(leader|follower|standalone)$ ]]
}

# start_zk_ensemble DIR: the three nodes, state in DIR/zk-N.
start_zk_ensemble() {
    local dir=$1 ports quorum election ensemble="" i name
    read -r -a ports <<<"$DC_HA_ZK_PORTS"
    read -r -a quorum <<<"$DC_HA_ZK_QUORUM_PORTS"
    read -r -a election <<<"$DC_HA_ZK_ELECTION_PORTS"
    for i in 0 1 2; do ensemble+=" 127.0.0.1:${quorum[$i]}:${election[$i]}"; done
    for i in 0 1 2; do
        name=${HA_ZK_NODES[$i]}
        already_running "$name" && continue
        require_port_free "$name" 127.0.0.1 "${ports[$i]}"
        start_bg "$name" env DC_ZK_ENSEMBLE="${ensemble# }" DC_ZK_MYID=$((i + 1)) \
            "$DC_ROOT/scripts/launch.sh" zookeeper "${ports[$i]}" "$dir/$name"
    done
}

# wait_zk_ensemble: every node serves, in a quorum.
wait_zk_ensemble() {
    local ports i
    read -r -a ports <<<"$DC_HA_ZK_PORTS"
    for i in 0 1 2; do
        wait_for "${HA_ZK_NODES[$i]}" "a quorum member on 127.0.0.1:${ports[$i]}" 90 \
            zk_serving 127.0.0.1 "${ports[$i]}"
    done
}

# galera_nodes: every node's group-communication address, comma-separated.
galera_nodes() {
    local port out=()
    for port in $DC_HA_GALERA_PORTS; do out+=("127.0.0.1:$port"); done
    (
        IFS=,
        echo "${out[*]}"
    )
}

# galera_bootstrap_node DIR: the index of the node that starts the cluster when none runs:
# the one Galera marked safe to bootstrap (the last to stop cleanly); on a first start, the
# first; after all crashed, the one with the highest sequence number, marked safe (warned).
galera_bootstrap_node() {
    local dir=$1 i state best=0 best_seqno=-2 seqno
    for i in 0 1 2; do
        state=$dir/${HA_MYSQL_NODES[$i]}/data/grastate.dat
        [[ -f "$state" ]] || continue
        if grep -qx 'safe_to_bootstrap: 1' "$state"; then
            echo "$i"
            return 0
        fi
        seqno=$(sed -n 's/^seqno: *//p' "$state")
        if [[ "$seqno" =~ ^-?[0-9]+$ ]] && ((seqno > best_seqno)); then
            best=$i best_seqno=$seqno
        fi
    done
    state=$dir/${HA_MYSQL_NODES[$best]}/data/grastate.dat
    if [[ -f "$state" ]]; then
        warn "no Galera node stopped cleanly: starting the cluster from ${HA_MYSQL_NODES[$best]} (seqno $best_seqno); a transaction only another node had is lost"
        sed -i 's/^safe_to_bootstrap: 0/safe_to_bootstrap: 1/' "$state"
    fi
    echo "$best"
}

# start_galera DIR: the three nodes, each in DIR/mysql-N, root's password in DIR/root.password.
# With none running, one starts a new cluster (with the init file that sets root's password,
# as lib.sh's start_mariadb does; the others get it, and the accounts, from it) and is waited
# for; the others join it.
start_galera() {
    local dir=$1 ports gcomm i boot name
    read -r -a ports <<<"$DC_HA_MYSQL_PORTS"
    read -r -a gcomm <<<"$DC_HA_GALERA_PORTS"
    ensure_debs galera-4 rsync
    mkdir -p "$dir"
    # The nodes run as mysql (launch.sh): they pass through, the files here stay root's.
    chmod 711 "$dir"
    ensure_password "$dir/root.password"
    local any=0
    for name in "${HA_MYSQL_NODES[@]}"; do running "$name" && any=1; done
    if ((any == 0)); then
        boot=$(galera_bootstrap_node "$dir")
        name=${HA_MYSQL_NODES[$boot]}
        require_port_free "$name" 127.0.0.1 "${ports[$boot]}"
        mkdir -p "$dir/$name"
        write_mariadb_init "$dir/$name/init.sql" "$dir/root.password" "$name"
        start_bg "$name" env DC_MARIADB_INIT_FILE="$dir/$name/init.sql" DC_GALERA_BOOTSTRAP=1 \
            DC_GALERA_NODES="$(galera_nodes)" DC_GALERA_NODE="127.0.0.1:${gcomm[$boot]}" \
            "$DC_ROOT/scripts/launch.sh" mariadb "${ports[$boot]}" "$dir/$name"
        wait_for "$name" "Galera's first node synced on 127.0.0.1:${ports[$boot]}" 90 \
            galera_synced "${ports[$boot]}" "$dir/root.password"
    fi
    for i in 0 1 2; do
        name=${HA_MYSQL_NODES[$i]}
        already_running "$name" && continue
        require_port_free "$name" 127.0.0.1 "${ports[$i]}"
        start_bg "$name" env DC_GALERA_NODES="$(galera_nodes)" \
            DC_GALERA_NODE="127.0.0.1:${gcomm[$i]}" \
            "$DC_ROOT/scripts/launch.sh" mariadb "${ports[$i]}" "$dir/$name"
    done
}

# galera_synced PORT PASSWORD_FILE: the node on 127.0.0.1:PORT is a synced member of a primary
# component (it takes reads and writes).
galera_synced() {
    local out
    out=$(MYSQL_PWD=$(<"$2") mariadb --protocol=tcp -h 127.0.0.1 -P "$1" -u root \
        --connect-timeout=2 -N -e "SHOW STATUS WHERE Variable_name IN ('wsrep_local_state_comment', 'wsrep_cluster_status')" 2>/dev/null) ||
        return 1
    [[ "$out" == *Synced* && "$out" == *Primary* ]]
}

# wait_galera DIR: every node synced, then HAProxy's front (started by the caller) answers.
wait_galera() {
    local dir=$1 ports i
    read -r -a ports <<<"$DC_HA_MYSQL_PORTS"
    for i in 0 1 2; do
        wait_for "${HA_MYSQL_NODES[$i]}" "a synced Galera node on 127.0.0.1:${ports[$i]}" 180 \
            galera_synced "${ports[$i]}" "$dir/root.password"
    done
}

# start_galera_proxy NAME: HAProxy on DC_MYSQL_PORT in front of the nodes (haproxy/galera.cfg).
start_galera_proxy() {
    local name=$1 ports
    read -r -a ports <<<"$DC_HA_MYSQL_PORTS"
    running "$name" || require_port_free "$name" 127.0.0.1 "$DC_MYSQL_PORT"
    start_bg "$name" env DC_GALERA_PROXY_BIND="127.0.0.1:$DC_MYSQL_PORT" \
        DC_GALERA_1="127.0.0.1:${ports[0]}" DC_GALERA_2="127.0.0.1:${ports[1]}" \
        DC_GALERA_3="127.0.0.1:${ports[2]}" \
        haproxy -db -f "$DC_ROOT/haproxy/galera.cfg"
}
