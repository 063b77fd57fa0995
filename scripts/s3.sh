# shellcheck shell=bash
# scripts/s3.sh — SeaweedFS for the local cluster and the test services. Sourced by lib.sh.
#
# Jobs run on the same machine, so SeaweedFS must answer only distcron's own processes:
# - It runs in a network namespace of its own (distcron-s3-<S3 port>), joined to the host by a
#   veth pair on a /30 link-local network (s3_net). Its master, volume server and filer listen
#   on the namespace's own loopback, out of every job's reach; only the S3 gateway listens on
#   the namespace's end of the link, which is the endpoint distcron uses (s3_endpoint).
# - The S3 gateway knows three identities (`-s3.config`), each with keys generated once:
#   `api` reads, writes and lists the bucket; `worker` only reads; `manager` lists, reads and
#   deletes (the leader's sweep of unused blobs); `admin` may do everything (creating the
#   bucket, the tests' tampering). Anonymous requests are refused.
# - SeaweedFS's gRPC ports need a client certificate of its own CA (security.toml): among them
#   is the S3 gateway's, on the same address as S3, whose `Configure` call would replace the
#   identities.
# - It has a private /tmp (its unix sockets live there), and its data and secrets are root's.

# Each SeaweedFS service's gRPC port is its HTTP port minus 5000 (SeaweedFS's default, + 10000,
# would leave the ephemeral range's ports to chance).
WEED_GRPC_OFFSET=-5000
weed_grpc_port() { echo $(($1 + WEED_GRPC_OFFSET)); }

# s3_net PORT: "HOST_IP NAMESPACE_IP", the /30 between the host and the namespace of the
# SeaweedFS whose S3 port is PORT (a different one for each port: the cluster's and the tests').
s3_net() {
    local p=$1
    local x=$(((p >> 6) & 255)) y=$(((p & 63) * 4))
    echo "169.254.$x.$((y + 1)) 169.254.$x.$((y + 2))"
}
s3_ip() {
    local net
    net=$(s3_net "$1")
    echo "${net#* }"
}
s3_endpoint() { echo "http://$(s3_ip "$1"):$1"; }
s3_netns() { echo "distcron-s3-$1"; }

# ensure_s3_netns PORT: the namespace and its link, made if missing.
ensure_s3_netns() {
    local ns veth="dcs$1" host ip
    ns=$(s3_netns "$1")
    read -r host ip <<<"$(s3_net "$1")"
    if ip netns exec "$ns" true 2>/dev/null && ip -o addr show dev "$veth" 2>/dev/null | grep -qF " $host/"; then
        return 0
    fi
    command -v ip >/dev/null || ensure_debs iproute2
    [[ -z "$(ip netns pids "$ns" 2>/dev/null)" ]] ||
        die "the network namespace $ns is in use by processes that are not ours (another checkout's SeaweedFS on port $1?)"
    remove_s3_netns "$1"
    {
        ip netns add "$ns" &&
            ip link add "$veth" type veth peer name "${veth}n" &&
            ip link set "${veth}n" netns "$ns" &&
            ip addr add "$host/30" dev "$veth" &&
            ip link set "$veth" up &&
            ip netns exec "$ns" ip addr add "$ip/30" dev "${veth}n" &&
            ip netns exec "$ns" ip link set "${veth}n" up &&
            ip netns exec "$ns" ip link set lo up
    } || die "cannot create the network namespace $ns for SeaweedFS (this needs root)"
}

remove_s3_netns() {
    ip netns del "$(s3_netns "$1")" 2>/dev/null || true
    ip link del "dcs$1" 2>/dev/null || true
}

# ensure_s3_secrets DIR BUCKET: the identities' keys (DIR/<who>.keys, `ACCESS_KEY SECRET`),
# SeaweedFS's identity file (DIR/s3.json), its gRPC CA and certificate (DIR/tls) and
# DIR/security.toml, made once; everything mode 600 in directories of mode 700.
ensure_s3_secrets() {
    local dir=$1 bucket=$2 who
    mkdir -p "$dir/tls"
    chmod 700 "$dir" "$dir/tls"
    (
        umask 077
        for who in api worker manager admin; do
            [[ -s "$dir/$who.keys" ]] ||
                echo "distcron-$who-$(openssl rand -hex 6) $(openssl rand -hex 24)" >"$dir/$who.keys"
        done
        identity() {
            local access secret
            read -r access secret <"$dir/$1.keys"
            printf '    {"name": "distcron-%s", "credentials": [{"accessKey": "%s", "secretKey": "%s"}], "actions": [%s]}' \
                "$1" "$access" "$secret" "$2"
        }
        {
            echo '{"identities": ['
            identity api "\"Read:$bucket\", \"Write:$bucket\", \"List:$bucket\""
            echo ','
            identity worker "\"Read:$bucket\""
            echo ','
            identity manager "\"Read:$bucket\", \"List:$bucket\", \"Write:$bucket\""
            echo ','
            identity admin '"Admin", "Read", "Write", "List", "Tagging"'
            printf '\n]}\n'
        } >"$dir/s3.json"
        local tls=$dir/tls
        if [[ ! -s "$tls/weed.crt" ]]; then
            openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=distcron SeaweedFS CA" \
                -keyout "$tls/ca.key" -out "$tls/ca.crt" 2>/dev/null &&
                openssl req -newkey rsa:2048 -nodes -subj "/CN=distcron-seaweedfs" \
                    -keyout "$tls/weed.key" -out "$tls/weed.csr" 2>/dev/null &&
                openssl x509 -req -days 3650 -in "$tls/weed.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" \
                    -CAcreateserial -out "$tls/weed.crt" \
                    -extfile <(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n') \
                    2>/dev/null || die "openssl could not make SeaweedFS's gRPC certificates in $tls"
        fi
        {
            echo "# Written by scripts/s3.sh: SeaweedFS's gRPC ports answer only its own certificate."
            echo "[grpc]"
            # Relative to the secrets directory, SeaweedFS's working directory (see start_weed).
            echo "ca = \"tls/ca.crt\""
            for who in master volume filer s3 client; do
                printf '[grpc.%s]\ncert = "tls/weed.crt"\nkey = "tls/weed.key"\n' "$who"
            done
        } >"$dir/security.toml"
    ) || die "could not write SeaweedFS's secrets in $dir"
}

# s3_keys DIR WHO: the access key and secret of identity WHO, as `ACCESS SECRET`.
s3_keys() { cat "$1/$2.keys"; }

# s3_admin_curl PORT DIR [CURL_ARGS...] PATH: a request to the S3 gateway signed with the
# admin identity's keys, printing the status code.
s3_admin_curl() {
    local port=$1 dir=$2 access secret
    shift 2
    read -r access secret <"$dir/admin.keys"
    local args=("$@")
    local path=${args[-1]}
    unset 'args[-1]'
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
        --aws-sigv4 'aws:amz:us-east-1:s3' --user "$access:$secret" "${args[@]}" \
        "$(s3_endpoint "$port")$path" 2>/dev/null || true
}

# start_weed NAME DIR S3_PORT MASTER_PORT VOLUME_PORT FILER_PORT SECRETS_DIR: SeaweedFS
# (master, volume, filer and S3 gateway in one process) in its namespace, state in DIR, with
# the identities and gRPC certificates of SECRETS_DIR (scripts/launch.sh seaweedfs).
start_weed() {
    local name=$1 dir=$2 s3=$3 master=$4 volume=$5 filer=$6 secrets=$7
    already_running "$name" && return 0
    ensure_s3_netns "$s3"
    start_bg "$name" env DC_WEED="$DC_VENV/bin/weed" DC_WEED_GRPC_OFFSET="$WEED_GRPC_OFFSET" \
        DC_WEED_S3_BIND="$(s3_ip "$s3")" DC_WEED_SECRETS="$secrets" DC_WEED_NETNS="$(s3_netns "$s3")" \
        "$DC_ROOT/scripts/launch.sh" seaweedfs "$dir" "$s3" "$master" "$volume" "$filer"
}

# weed_ok S3_PORT MASTER_PORT VOLUME_PORT SECRETS_DIR: the S3 gateway lists buckets for the
# admin identity, and the master and the volume server are up (until the volume server has
# registered, objects cannot be read).
weed_ok() {
    local ns
    ns=$(s3_netns "$1")
    [[ "$(s3_admin_curl "$1" "$4" /)" == 200 ]] &&
        ip netns exec "$ns" curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$2/cluster/healthz" 2>/dev/null &&
        ip netns exec "$ns" curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$3/healthz" 2>/dev/null
}

# ensure_s3_bucket S3_PORT SECRETS_DIR BUCKET: the bucket exists (made with the admin keys).
ensure_s3_bucket() {
    local code
    [[ "$(s3_admin_curl "$1" "$2" -I "/$3")" == 200 ]] && return 0
    code=$(s3_admin_curl "$1" "$2" -X PUT "/$3")
    [[ "$code" == 200 || "$code" == 409 ]] || die "could not create the S3 bucket $3 (status $code)"
}

# SeaweedFS needs about 15 s to stop on SIGTERM (its filer waits for streams to end).
# shellcheck disable=SC2034 # used by the scripts that source this one
WEED_STOP_TIMEOUT=${DC_WEED_STOP_TIMEOUT:-30}
