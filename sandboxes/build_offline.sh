#!/usr/bin/env bash
# Build the sandbox image without any image registry: debootstrap a minimal
# Debian bookworm root with python3 (and procps: candidates shell out to kill,
# ps...; python3-coverage: the runner measures branch arcs with it when asked,
# else with its stdlib fallback; python3-numpy and python3-sortedcontainers:
# samples import numpy, LeetCode preludes import sortedcontainers, as bwrap
# lets them) from the Debian mirror, add a non-root user,
# and `docker import` it.  Idempotent: does nothing when the image exists
# (unless --force, or this script built it from an older recipe), and reuses
# a cached rootfs tarball when there is one.
#
# usage: sandboxes/build_offline.sh [--force] [--rebuild-rootfs]
# env:   CODEGEN_TTC_SANDBOX_IMAGE  image tag (default codegen-ttc-sandbox:py3)
#        CODEGEN_TTC_CACHE          cache dir (default ${XDG_CACHE_HOME:-~/.cache}/codegen-ttc)
#        DEBIAN_MIRROR              (default http://deb.debian.org/debian)
# needs: root, debootstrap, a running Docker engine.
set -euo pipefail

IMAGE="${CODEGEN_TTC_SANDBOX_IMAGE:-codegen-ttc-sandbox:py3}"
CACHE="${CODEGEN_TTC_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/codegen-ttc}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
# bump when the recipe below changes, so a stale cached rootfs is not reused
RECIPE=6
TARBALL="$CACHE/sandbox-rootfs-$SUITE-r$RECIPE.tar"
SANDBOX_UID=10001

force=0
rebuild=0
for arg in "$@"; do
    case "$arg" in
        --force) force=1 ;;
        --rebuild-rootfs) force=1; rebuild=1 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "build_offline.sh: unknown argument $arg" >&2; exit 2 ;;
    esac
done

log() { echo "build_offline: $*" >&2; }

if ! docker info >/dev/null 2>&1; then
    log "no Docker engine answers (start one: scripts/setup_docker.sh)"; exit 1
fi
if [ "$force" = 0 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    # an image this script built from an older recipe lacks what the recipe added: rebuild it
    built="$(docker image inspect --format '{{index .Config.Labels "org.codegen-ttc.recipe"}}' "$IMAGE" 2>/dev/null || true)"
    case "$built" in
        offline-r"$RECIPE"|dockerfile-*) log "$IMAGE already present"; exit 0 ;;
        offline-r*) log "$IMAGE was built from recipe ${built#offline-r}, this is $RECIPE: rebuilding"; force=1 ;;
        *) log "$IMAGE already present"; exit 0 ;;
    esac
fi

if [ "$rebuild" = 1 ] || [ ! -s "$TARBALL" ]; then
    [ "$(id -u)" = 0 ] || { log "debootstrap needs root"; exit 1; }
    command -v debootstrap >/dev/null || { log "debootstrap not installed (apt-get install debootstrap)"; exit 1; }
    mkdir -p "$CACHE"
    root="$(mktemp -d "$CACHE/rootfs.XXXXXX")"
    # a failed debootstrap leaves mounts (proc, sys) inside the root: unmount before rm
    cleanup() {
        for m in proc sys dev/pts dev; do umount -l "$root/$m" 2>/dev/null || true; done
        rm -rf --one-file-system "$root"
    }
    trap cleanup EXIT
    log "debootstrap $SUITE (minbase + python3, procps, python3-coverage, python3-numpy, python3-sortedcontainers) from $MIRROR"
    debootstrap --variant=minbase --include=python3,procps,python3-coverage,python3-numpy,python3-sortedcontainers "$SUITE" "$root" "$MIRROR" >&2
    # the non-root user the runner drops to; no home, no shell
    grep -q "^sandbox:" "$root/etc/passwd" || {
        echo "sandbox:x:$SANDBOX_UID:$SANDBOX_UID:codegen-ttc sandbox:/nonexistent:/usr/sbin/nologin" >>"$root/etc/passwd"
        echo "sandbox:x:$SANDBOX_UID:" >>"$root/etc/group"
        echo "sandbox:*:19000:0:99999:7:::" >>"$root/etc/shadow"
    }
    # the sandbox mounts a fresh tmpfs at /sandbox (its --tmp, wiped between
    # candidates); /tmp and /var/tmp point there so code that writes to /tmp
    # works under a read-only root and leaves nothing behind
    rm -rf "$root/tmp" "$root/var/tmp"
    ln -s /sandbox "$root/tmp"
    ln -s /sandbox "$root/var/tmp"
    # trim what a candidate program never needs (apt state, docs, caches)
    rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
           "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*
    # mktemp made the root 0700; the tar's "./" entry carries that mode, and
    # storage drivers that apply it (vfs) would make / untraversable for uid 10001
    chmod 0755 "$root"
    # write the tarball atomically so an interrupted run never leaves a truncated cache
    tar --numeric-owner --one-file-system -C "$root" -cf "$TARBALL.part" .
    mv "$TARBALL.part" "$TARBALL"
    # rootfs tarballs of older recipes are dead weight now
    find "$CACHE" -maxdepth 1 -name 'sandbox-rootfs-*.tar' ! -name "$(basename "$TARBALL")" -delete
    log "cached rootfs at $TARBALL ($(du -h "$TARBALL" | cut -f1))"
fi

old_id="$(docker image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
log "docker import -> $IMAGE"
docker import \
    --change "USER $SANDBOX_UID:$SANDBOX_UID" \
    --change "WORKDIR /" \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1" \
    --change 'CMD ["python3"]' \
    --change "LABEL org.codegen-ttc.sandbox=py3 org.codegen-ttc.recipe=offline-r$RECIPE" \
    "$TARBALL" "$IMAGE" >&2
docker run --rm --network none "$IMAGE" python3 -c 'import sys, os; print("build_offline: ok", sys.version.split()[0], "uid", os.getuid())' >&2
# a rebuild (--force) leaves the previous image untagged: drop it unless in use
new_id="$(docker image inspect --format '{{.Id}}' "$IMAGE")"
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
    docker rmi "$old_id" >/dev/null 2>&1 || true
fi
