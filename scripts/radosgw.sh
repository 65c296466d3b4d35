#!/usr/bin/env bash
# A one-node Ceph radosgw (a real S3 server) on loopback, for benchmarks/bench_cloud_arrays.py.
#
#   scripts/radosgw.sh start   # prints {"endpoint", "key", "secret", "bucket"} as its last line
#   scripts/radosgw.sh stop
#
# Debian's ceph 16.2 packages are downloaded (apt-get download, about 64 debs, 66 MB) and
# unpacked with dpkg-deb -x into $RADOSGW_HOME/root on first use, not installed. One monitor,
# one OSD on memstore (RAM, $RADOSGW_MEMSTORE_BYTES), no authentication, radosgw's beast
# frontend on 127.0.0.1:$RADOSGW_PORT. Steps and pitfalls: /work/shared/FIELD_GUIDE.md (the OSD
# is registered and placed in the CRUSH map before it starts, else "wrong fsid").
set -euo pipefail

HOME_DIR=${RADOSGW_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/cloudzarr/radosgw}
ROOT=$HOME_DIR/root
RUN=$HOME_DIR/run
MON_PORT=${RADOSGW_MON_PORT:-16789}
RGW_PORT=${RADOSGW_PORT:-17480}
MEMSTORE=${RADOSGW_MEMSTORE_BYTES:-3221225472}
KEY=${RADOSGW_KEY:-cloudzarrbench}
SECRET=${RADOSGW_SECRET:-cloudzarrbenchsecret}
BUCKET=${RADOSGW_BUCKET:-bench}
PYTHON=${PYTHON:-python3}

log() { echo "radosgw.sh: $*" >&2; }

unpack() {
    [ -x "$ROOT/usr/bin/radosgw" ] && return 0
    log "downloading and unpacking the ceph packages into $ROOT"
    mkdir -p "$HOME_DIR/debs" "$ROOT"
    local pkgs
    pkgs=$(apt-get install --no-install-recommends -s ceph-mon ceph-osd radosgw ceph-common \
        | awk '/^Inst / {print $2}')
    (cd "$HOME_DIR/debs" && apt-get download $pkgs >&2)
    for deb in "$HOME_DIR"/debs/*.deb; do dpkg-deb -x "$deb" "$ROOT"; done
}

environment() {
    export LD_LIBRARY_PATH="$ROOT/usr/lib/x86_64-linux-gnu:$ROOT/usr/lib/x86_64-linux-gnu/ceph:$ROOT/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export PATH="$ROOT/usr/bin:$ROOT/usr/sbin:$PATH"
    export PYTHONPATH="$ROOT/usr/lib/python3/dist-packages${PYTHONPATH:+:$PYTHONPATH}"
    CONF=$RUN/ceph.conf
}

write_conf() {
    local fsid=$1
    cat >"$CONF" <<EOF
[global]
fsid = $fsid
mon host = 127.0.0.1:$MON_PORT
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
# Without cephx there is no "secure" connection mode; radosgw asks for it on monitor links.
ms mon client mode = crc
ms client mode = crc
ms mon service mode = crc
ms mon cluster mode = crc
ms service mode = crc
ms cluster mode = crc
osd pool default size = 1
osd pool default min size = 1
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
osd objectstore = memstore
memstore device bytes = $MEMSTORE
run dir = $RUN
log file = $RUN/\$name.log
admin socket = $RUN/\$name.asok
pid file = $RUN/\$name.pid
keyring = $RUN/keyring
# The unpacked tree is not at /usr: point ceph at its plugins and object classes.
erasure code dir = $ROOT/usr/lib/x86_64-linux-gnu/ceph/erasure-code
plugin dir = $ROOT/usr/lib/x86_64-linux-gnu/ceph
osd class dir = $ROOT/usr/lib/x86_64-linux-gnu/rados-classes
[mon.a]
mon data = $RUN/mon.a
[osd.0]
osd data = $RUN/osd.0
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $RUN/rgw.a
EOF
}

wait_pid_file() {
    for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.2; done
    log "no pid file $1"; return 1
}

start() {
    unpack
    stop_daemons
    rm -rf "$RUN"
    mkdir -p "$RUN/mon.a" "$RUN/osd.0" "$RUN/rgw.a"
    environment
    local fsid
    fsid=$("$PYTHON" -c 'import uuid; print(uuid.uuid4())')
    write_conf "$fsid"
    ceph-authtool --create-keyring "$RUN/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
    monmaptool --create --add a "127.0.0.1:$MON_PORT" --fsid "$fsid" "$RUN/monmap" >/dev/null
    ceph-mon -c "$CONF" --mkfs -i a --monmap "$RUN/monmap" --keyring "$RUN/keyring"
    ceph-mon -c "$CONF" -i a
    wait_pid_file "$RUN/mon.a.pid"
    # Registered and placed before it starts (else "wrong fsid" on some starts).
    ceph -c "$CONF" osd create >/dev/null
    ceph -c "$CONF" osd crush add-bucket localhost host >/dev/null
    ceph -c "$CONF" osd crush move localhost root=default >/dev/null
    ceph -c "$CONF" osd crush add osd.0 1.0 host=localhost >/dev/null
    ceph-osd -c "$CONF" -i 0 --mkfs >/dev/null 2>&1
    ceph-osd -c "$CONF" -i 0
    wait_pid_file "$RUN/osd.0.pid"
    radosgw -c "$CONF" -n client.rgw.a
    wait_pid_file "$RUN/client.rgw.a.pid"
    local up=""
    for _ in $(seq 150); do
        if "$PYTHON" -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$RGW_PORT', timeout=1)" 2>/dev/null; then
            up=1; break
        fi
        sleep 0.2
    done
    [ -n "$up" ] || { log "radosgw did not answer; see $RUN/*.log"; exit 1; }
    radosgw-admin -c "$CONF" user create --uid=bench --display-name=bench \
        --access-key="$KEY" --secret="$SECRET" >/dev/null
    "$PYTHON" - "$RGW_PORT" "$KEY" "$SECRET" "$BUCKET" <<'EOF'
import sys, boto3
port, key, secret, bucket = sys.argv[1:]
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id=key,
                  aws_secret_access_key=secret, region_name="us-east-1")
s3.create_bucket(Bucket=bucket)
EOF
    printf '{"endpoint": "http://127.0.0.1:%s", "key": "%s", "secret": "%s", "bucket": "%s"}\n' \
        "$RGW_PORT" "$KEY" "$SECRET" "$BUCKET"
}

stop_one() {
    # Stop one daemon by its pid file and wait for it (radosgw may need SIGKILL).
    local pidfile=$1
    [ -s "$pidfile" ] || return 0
    local pid
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
    for _ in $(seq 25); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    rm -f "$pidfile"
}

stop_daemons() {
    stop_one "$RUN/client.rgw.a.pid"
    stop_one "$RUN/osd.0.pid"
    stop_one "$RUN/mon.a.pid"
}

case "${1:-}" in
    start) start ;;
    stop) stop_daemons ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
