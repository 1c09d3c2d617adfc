#!/usr/bin/env bash
# Build the project's Dockerfile with rootful podman and check the container the way a
# user runs it: the service answers /healthz on a published port, the image's HEALTHCHECK
# passes, a dump dropped into the mounted inbox is ingested, and SIGTERM stops it cleanly.
#
#   sudo scripts/container-test.sh
#
# Needs root and Debian's podman, runc, debootstrap and curl (installed when missing). No
# image registry is needed: the base image is made with debootstrap from the apt mirror,
# with python3 and its venv module added, and passed to the Dockerfile as BASE. All podman
# state lives under $W (default /tmp/paperbot-containers); `podman system reset -f`
# with CONTAINERS_CONF and CONTAINERS_STORAGE_CONF set as below removes it.
#
# Environment: W (state folder), PORT (host port on 127.0.0.1; default: a free one),
# MIRROR (Debian mirror; default: the one apt uses), STORAGE_DRIVER (default overlay).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=${W:-/tmp/paperbot-containers}
IMAGE=local/paperbot:test
BASE_IMAGE=local/debian:bookworm
PYTHON_IMAGE=local/python3:bookworm
NAME=paperbot-test
VOLUME=paperbot-test-data
SAMPLE=$ROOT/examples/dumps/compact-1.txt
STOP_TIMEOUT=30
export DEBIAN_FRONTEND=noninteractive

START=$(date +%s.%N)
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
step() { printf '\n== %s\n' "$*"; }
ok() { printf 'ok    %s\n' "$*"; }
fail() {
    printf 'FAIL  %s\n' "$*" >&2
    exit 1
}

[ "$(id -u)" -eq 0 ] || fail "run as root: rootful podman, apt-get and debootstrap need it"
[ -f "$SAMPLE" ] || fail "sample dump $SAMPLE is missing"

# --- 1. tools ----------------------------------------------------------------------
step "tools"
t=$(now)
missing=()
for tool in podman runc debootstrap curl; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -q >/dev/null
    apt-get install -y -q "${missing[@]}" >/dev/null
fi
ok "podman $(podman --version | awk '{print $3}'), runc, debootstrap, curl ($(since "$t"))"

# --- 2. podman settings: runc (crun refuses the hybrid cgroups here), ulimits podman can
#        set without CAP_SYS_RESOURCE, storage under $W --------------------------------
mkdir -p "$W/conf"
cat >"$W/conf/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
cat >"$W/conf/storage.conf" <<CONF
[storage]
driver = "${STORAGE_DRIVER:-overlay}"
graphroot = "$W/storage"
runroot = "$W/run"
CONF
export CONTAINERS_CONF="$W/conf/containers.conf" CONTAINERS_STORAGE_CONF="$W/conf/storage.conf"

SINK=
cleanup() {
    [ -z "$SINK" ] || kill "$SINK" 2>/dev/null || true
    podman rm -f -t 0 "$NAME" >/dev/null 2>&1 || true
    podman volume rm -f "$VOLUME" "$VOLUME-demo" >/dev/null 2>&1 || true
    rm -rf "$W/inbox" "$W/config"
}
trap cleanup EXIT
cleanup

# --- 3. base images, made once: minimal bookworm with the host's CA certificates (pip
#        is told to use the system bundle), then python3 and venv on top ----------------
step "base images"
t=$(now)
if ! podman image exists "$BASE_IMAGE"; then
    MIRROR=${MIRROR:-$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)}
    [ -n "$MIRROR" ] || fail "no Debian mirror found; set MIRROR"
    rm -rf "$W/rootfs"
    debootstrap --variant=minbase --include=ca-certificates bookworm "$W/rootfs" "$MIRROR" \
        >"$W/debootstrap.log" 2>&1 || fail "debootstrap failed, see $W/debootstrap.log"
    cp /usr/local/share/ca-certificates/*.crt "$W/rootfs/usr/local/share/ca-certificates/" 2>/dev/null || true
    chroot "$W/rootfs" update-ca-certificates >/dev/null 2>&1
    printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$W/rootfs/etc/pip.conf"
    printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s-security bookworm-security main\n' \
        "$MIRROR" "$MIRROR" "$MIRROR" >"$W/rootfs/etc/apt/sources.list"
    rm -rf "$W"/rootfs/var/cache/apt/archives/*.deb "$W"/rootfs/var/lib/apt/lists/*
    tar -C "$W/rootfs" -c . | podman import -q - "$BASE_IMAGE" >/dev/null
    rm -rf "$W/rootfs"
fi
if ! podman image exists "$PYTHON_IMAGE"; then
    mkdir -p "$W/python3"
    cat >"$W/python3/Dockerfile" <<DOCKERFILE
FROM $BASE_IMAGE
RUN apt-get update -q && apt-get install -y -q --no-install-recommends python3 python3-venv \\
    && rm -rf /var/lib/apt/lists/*
DOCKERFILE
    podman build -q --format docker --network=host -t "$PYTHON_IMAGE" "$W/python3" \
        >"$W/python3/build.log" 2>&1 || fail "building $PYTHON_IMAGE failed, see $W/python3/build.log"
fi
ok "$PYTHON_IMAGE ($(podman run --rm "$PYTHON_IMAGE" python3 --version)) ($(since "$t"))"

# --- 4. the project's Dockerfile, as it is (docker format keeps HEALTHCHECK) -------------
step "build"
t=$(now)
podman build --format docker --network=host --build-arg "BASE=$PYTHON_IMAGE" \
    -t "$IMAGE" "$ROOT" >"$W/build.log" 2>&1 || {
    tail -n 30 "$W/build.log" >&2
    fail "podman build failed, see $W/build.log"
}
ok "podman build $IMAGE ($(since "$t")), $(podman image inspect "$IMAGE" --format '{{.Size}}' |
    awk '{ printf "%.0f MB", $1 / 1e6 }')"
healthcheck=$(podman image inspect "$IMAGE" --format '{{json .Config.Healthcheck}}')
[[ $healthcheck == *'"paperbot","health"'* ]] || fail "the image has no HEALTHCHECK paperbot health: $healthcheck"
ok "HEALTHCHECK: $healthcheck"
ok "user $(podman image inspect "$IMAGE" --format '{{.Config.User}}'), cmd $(podman image inspect "$IMAGE" --format '{{json .Config.Cmd}}'), volumes $(podman image inspect "$IMAGE" --format '{{json .Config.Volumes}}')"

# --- 5. commands that need no service -----------------------------------------------
step "one-off commands"
t=$(now)
uid=$(podman run --rm --no-healthcheck "$IMAGE" id -u)
[ "$uid" != 0 ] || fail "the container runs as root"
ok "runs as uid $uid"
source=$(podman run --rm --no-healthcheck "$IMAGE" paperbot config)
source=${source%%$'\n'*}
[ "$source" = "# from embedded defaults" ] || fail "without a settings file: $source"
ok "no settings file mounted: paperbot config says '$source' ($(since "$t"))"

mkdir -p "$W/inbox" "$W/config"
chmod 755 "$W/inbox" "$W/config"
cat >"$W/config/paperbot.toml" <<TOML
# Scan the inbox often, so the test does not wait for the default five minutes.
[schedule]
inbox_every = 2.0
stop_timeout = $STOP_TIMEOUT
TOML
chmod 644 "$W/config/paperbot.toml"
MOUNTS=(-v "$VOLUME:/data" -v "$W/inbox:/data/inbox:ro" -v "$W/config/paperbot.toml:/config/paperbot.toml:ro")
source=$(podman run --rm --no-healthcheck "${MOUNTS[@]}" "$IMAGE" paperbot config)
source=${source%%$'\n'*}
[ "$source" = "# from /config/paperbot.toml" ] || fail "with /config/paperbot.toml mounted: $source"
ok "settings file mounted at /config/paperbot.toml: paperbot config says '$source'"

# --- 6. the service ---------------------------------------------------------------
step "paperbot serve"
for command in serve health; do
    podman run --rm --no-healthcheck "$IMAGE" paperbot "$command" --help >/dev/null 2>&1 ||
        fail "'paperbot $command' does not exist in this build: the service steps cannot run"
done
PORT=${PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
t=$(now)
# Without systemd, podman cannot set the healthcheck timers and says so; the checks are run by hand.
quiet_systemd() { grep -v 'systemd connection' >&2 || true; }
podman run -d --init --name "$NAME" -p "127.0.0.1:$PORT:8080" "${MOUNTS[@]}" "$IMAGE" \
    >/dev/null 2> >(quiet_systemd)
ok "podman run -d --init -p 127.0.0.1:$PORT:8080 ($(since "$t"))"
code=000
for _ in $(seq 1 150); do
    code=$(curl -s -o "$W/healthz.json" -w '%{http_code}' "http://127.0.0.1:$PORT/healthz" 2>/dev/null) || code=000
    [ "$code" = 200 ] && break
    [ "$(podman inspect "$NAME" --format '{{.State.Running}}')" = true ] || break
    sleep 0.2
done
if [ "$code" != 200 ]; then
    podman logs "$NAME" 2>&1 | tail -n 30 >&2
    fail "GET /healthz answered $code, not 200, within 30 s"
fi
summary=$(python3 -c 'import json, sys; s = json.load(sys.stdin); print("alive:", s.get("alive"), "jobs:", ", ".join(j["name"] for j in s.get("jobs", [])))' <"$W/healthz.json" 2>/dev/null) ||
    summary=$(head -c 200 "$W/healthz.json")
ok "GET http://127.0.0.1:$PORT/healthz: HTTP 200, $summary ($(since "$t") after podman run)"

t=$(now)
healthy=
for _ in $(seq 1 20); do
    if podman healthcheck run "$NAME" >"$W/healthcheck.out" 2>&1; then
        healthy=yes
        break
    fi
    sleep 1
done
[ -n "$healthy" ] || {
    cat "$W/healthcheck.out" >&2
    podman exec "$NAME" paperbot health >&2 || true
    fail "podman healthcheck run: unhealthy after 20 tries"
}
ok "podman healthcheck run: exit 0, status $(podman inspect "$NAME" --format '{{.State.Health.Status}}' 2>/dev/null || podman inspect "$NAME" --format '{{.State.Healthcheck.Status}}') ($(since "$t"))"
podman exec -e COLUMNS=120 "$NAME" paperbot health | sed 's/^/      /'

# --- 7. a dump dropped into the mounted inbox is ingested by the service ---------------------
step "inbox"
t=$(now)
cp "$SAMPLE" "$W/inbox/"
chmod 644 "$W/inbox/$(basename "$SAMPLE")"
count=0
for _ in $(seq 1 60); do
    count=$(podman exec "$NAME" paperbot papers --json 2>/dev/null |
        python3 -c 'import json, sys; print(len(json.load(sys.stdin)))' 2>/dev/null) || count=0
    [ "$count" -gt 0 ] && break
    sleep 0.5
done
[ "$count" -gt 0 ] || {
    podman logs "$NAME" 2>&1 | tail -n 30 >&2
    fail "$(basename "$SAMPLE") was not ingested from the inbox within 30 s"
}
ok "$(basename "$SAMPLE") ingested by the service: $count papers stored ($(since "$t") after the copy)"
podman exec -e COLUMNS=120 "$NAME" paperbot report --limit 2 | sed 's/^/      /'

# --- 8. SIGTERM: exit 0 well within the stop timeout ----------------------------------
step "stop"
t=$(now)
podman stop -t "$STOP_TIMEOUT" "$NAME" >/dev/null 2> >(quiet_systemd)
elapsed=$(awk -v a="$t" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
status=$(podman inspect "$NAME" --format '{{.State.ExitCode}}')
podman logs "$NAME" 2>&1 | tail -n 5 | sed 's/^/      log: /'
[ "$status" = 0 ] || fail "exit status $status after SIGTERM, not 0"
awk -v e="$elapsed" -v limit="$STOP_TIMEOUT" 'BEGIN { exit !(e < limit / 3) }' ||
    fail "stopping took $elapsed s, not well within the $STOP_TIMEOUT s timeout"
ok "podman stop -t $STOP_TIMEOUT: exit status 0 after $elapsed s"

# --- 9. the same without --init: paperbot serve is PID 1 and handles SIGTERM itself -------
step "stop without --init"
podman rm "$NAME" >/dev/null 2> >(quiet_systemd)
podman run -d --name "$NAME" -p "127.0.0.1:$PORT:8080" "${MOUNTS[@]}" "$IMAGE" \
    >/dev/null 2> >(quiet_systemd)
code=000
for _ in $(seq 1 150); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz" 2>/dev/null) || code=000
    [ "$code" = 200 ] && break
    sleep 0.2
done
[ "$code" = 200 ] || fail "without --init, GET /healthz answered $code, not 200, within 30 s"
t=$(now)
podman stop -t "$STOP_TIMEOUT" "$NAME" >/dev/null 2> >(quiet_systemd)
elapsed=$(awk -v a="$t" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
status=$(podman inspect "$NAME" --format '{{.State.ExitCode}}')
[ "$status" = 0 ] || fail "without --init: exit status $status after SIGTERM, not 0"
awk -v e="$elapsed" -v limit="$STOP_TIMEOUT" 'BEGIN { exit !(e < limit / 3) }' ||
    fail "without --init, stopping took $elapsed s, not well within the $STOP_TIMEOUT s timeout"
ok "podman stop -t $STOP_TIMEOUT: exit status 0 after $elapsed s"

# --- 10. compose.yaml's demo service, with a local SMTP server standing in for Mailpit ----
# Its command, environment and mounts are read from compose.yaml; host networking, and
# "mailpit" resolving to 127.0.0.1, let it reach the server. Needs the project's .venv
# (`make test` makes it) for PyYAML and aiosmtpd.
step "compose.yaml's demo"
PY=$ROOT/.venv/bin/python
if ! "$PY" -c 'import aiosmtpd, yaml' 2>/dev/null; then
    printf 'skip  no .venv with aiosmtpd and PyYAML: run make test first\n'
else
    SMTP_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    rm -rf "$W/mail"
    "$PY" -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$W/mail" &
    SINK=$!
    for _ in $(seq 1 100); do
        (: <"/dev/tcp/127.0.0.1/$SMTP_PORT") 2>/dev/null && break
        sleep 0.1
    done
    # podman run's options for the demo service, one per line, then --, then its command.
    mapfile -t DEMO < <("$PY" - "$ROOT" "$VOLUME-demo" "$SMTP_PORT" <<'PYTHON'
import sys, yaml
root, volume, port = sys.argv[1:]
demo = yaml.safe_load(open(f"{root}/compose.yaml"))["services"]["demo"]
for key, value in {**demo["environment"], "PAPERBOT_SMTP_PORT": port}.items():
    print(f"--env={key}={value}")
for mount in demo["volumes"]:
    source, rest = mount.split(":", 1)
    source = root + source[1:] if source.startswith("./") else volume
    print(f"--volume={source}:{rest}")
print("--")
print(*demo["command"], sep="\n")
PYTHON
    )
    OPTIONS=() COMMAND=() seen=
    for arg in "${DEMO[@]}"; do
        if [ "$arg" = -- ]; then seen=yes; elif [ -n "$seen" ]; then COMMAND+=("$arg"); else OPTIONS+=("$arg"); fi
    done
    t=$(now)
    status=0
    podman run --rm --no-healthcheck --network=host --add-host=mailpit:127.0.0.1 \
        "${OPTIONS[@]}" "$IMAGE" "${COMMAND[@]}" >"$W/demo.log" 2>&1 || status=$?
    kill "$SINK" 2>/dev/null || true
    wait "$SINK" 2>/dev/null || true
    SINK=
    if [ "$status" != 0 ]; then
        tail -n 20 "$W/demo.log" >&2
        fail "compose.yaml's demo command exited with status $status"
    fi
    mails=$(find "$W/mail/new" -type f 2>/dev/null | wc -l)
    [ "$mails" -gt 0 ] || fail "compose.yaml's demo sent no email"
    ok "demo: ingest, import, digest over SMTP to 'mailpit': $mails emails received ($(since "$t"))"
    grep -m1 -h '^Subject:' "$W"/mail/new/* | sed 's/^/      /'
fi

printf '\nall container checks passed in %s\n' "$(since "$START")"
