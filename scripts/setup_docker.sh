#!/usr/bin/env bash
# Give this machine a usable Docker engine and the sandbox image (what CI runs).
#
#  1. if no engine answers `docker info`, start dockerd in the background
#     (falling back to the vfs storage driver, then to --iptables=false, when
#     the host's kernel/netfilter cannot do the defaults), and wait, bounded,
#     until it answers;
#  2. build the sandbox image offline (sandboxes/build_offline.sh) if missing.
#
# Idempotent; run as root from anywhere in a fresh clone.  Installs nothing:
# the caller apt-installs docker.io and debootstrap.  The engine is left running.
# env: DOCKERD_LOG (default /tmp/dockerd.log), DOCKERD_WAIT seconds per attempt (default 60)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
LOG="${DOCKERD_LOG:-/tmp/dockerd.log}"
WAIT="${DOCKERD_WAIT:-60}"

log() { echo "setup_docker: $*" >&2; }

engine_up() { docker info >/dev/null 2>&1; }

# is a dockerd process running? (/proc, not pgrep: procps may be absent)
dockerd_running() {
    local comm
    for comm in /proc/[0-9]*/comm; do
        [ "$(cat "$comm" 2>/dev/null)" = dockerd ] && return 0
    done
    return 1
}

# start dockerd with the given extra flags; 0 when it answers within $WAIT seconds
try_dockerd() {
    log "starting dockerd $* (log: $LOG)"
    # a pidfile left by a dead dockerd makes the next one refuse to start
    if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
        rm -f /var/run/docker.pid
    fi
    # setsid + nohup: the engine must outlive this script and the CI step's shell
    setsid nohup dockerd "$@" >>"$LOG" 2>&1 </dev/null &
    local pid=$! waited=0
    while [ "$waited" -lt "$WAIT" ]; do
        engine_up && { log "engine up after ${waited}s (dockerd $*)"; return 0; }
        kill -0 "$pid" 2>/dev/null || { log "dockerd $* exited; tail of $LOG:"; tail -n 5 "$LOG" >&2; return 1; }
        sleep 1; waited=$((waited + 1))
    done
    log "dockerd $* did not answer within ${WAIT}s"
    kill "$pid" 2>/dev/null || true
    sleep 2
    return 1
}

command -v docker >/dev/null || { log "docker CLI missing: apt-get install docker.io"; exit 1; }

if engine_up; then
    log "engine already running"
elif dockerd_running; then
    # one is starting (or stuck): wait for it rather than start a second one
    log "dockerd is running but not answering yet; waiting up to ${WAIT}s"
    for _ in $(seq "$WAIT"); do engine_up && break; sleep 1; done
    engine_up || { log "existing dockerd never answered; see its log"; exit 1; }
else
    [ "$(id -u)" = 0 ] || { log "starting dockerd needs root"; exit 1; }
    command -v dockerd >/dev/null || { log "dockerd missing: apt-get install docker.io"; exit 1; }
    # defaults (overlay2 + iptables) work on a normal host; nested/limited kernels
    # may lack overlay-on-overlay or netfilter.  The sandboxes use network "none",
    # so losing iptables costs them nothing.
    try_dockerd \
        || try_dockerd --storage-driver=vfs \
        || try_dockerd --storage-driver=vfs --iptables=false --ip-masq=false --bridge=none \
        || { log "could not start a Docker engine"; exit 1; }
fi
docker info --format 'setup_docker: engine {{.ServerVersion}}, storage {{.Driver}}, cgroup v{{.CgroupVersion}}' >&2 || true

"$repo/sandboxes/build_offline.sh"
