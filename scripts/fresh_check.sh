#!/usr/bin/env bash
# Checks the README's quick start as a fresh Debian 12 machine would run it: builds a minimal
# bookworm root file system with debootstrap, clones this repository's HEAD (committed work only)
# into it, and there, as root in a chroot, runs `CI=true ./scripts/test.sh`, then
# `./scripts/run.sh` until it answers /health. A green run here shows that the scripts install
# everything the build and the tests need; a run on a developer's machine cannot, since the
# packages it lacks may have been installed by hand long ago.
#   sudo ./scripts/fresh_check.sh         # about 20 minutes on 2 cores; needs the Debian mirror
#   FRESH_NEW=1 sudo ./scripts/fresh_check.sh    # start again from a new root file system
# The root file system stays in FRESH_ROOT (default /tmp/kakehashi-fresh) for the next run.
# Not part of scripts/test.sh: a developer's tool, run before changing what the scripts install.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

root="$(realpath -m "${FRESH_ROOT:-/tmp/kakehashi-fresh}")"
# Checked before anything is unmounted or removed: both act on $root/dev, $root/sys and $root.
[ "$root" != / ] || { echo "FRESH_ROOT must not be /" >&2; exit 1; }
port="${FRESH_PORT:-4399}"

[ "$(id -u)" = 0 ] || { log "run as root (chroot and mount need it)"; exit 1; }
ensure_packages debootstrap git

# The mirror this machine's own apt uses, so that the check reaches what the machine reaches.
mirror="${FRESH_MIRROR:-}"
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list.d/debian.sources ]; then
  # The stanza whose suites include plain "bookworm" (not -updates or -security).
  mirror=$(awk -v RS= '/(^|\n)Suites:([^\n]* )?bookworm( |\n|$)/ {
      if (match($0, /URIs: *[^ \n]+/)) { split(substr($0, RSTART, RLENGTH), u, / +/); print u[2]; exit } }' \
    /etc/apt/sources.list.d/debian.sources)
fi
if [ -z "$mirror" ]; then
  mirror=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
fi
[ -n "$mirror" ] || { log "no Debian mirror found in the apt sources; set FRESH_MIRROR"; exit 1; }

unmount() {
  for m in dev sys proc; do
    mountpoint -q "$root/$m" && umount -R "$root/$m"
  done
  return 0
}
trap unmount EXIT

if [ "${FRESH_NEW:-0}" = 1 ] || [ ! -x "$root/usr/bin/apt-get" ]; then
  unmount
  # rm -rf as root: never across a mount that is still there (the host's /dev or /sys).
  if findmnt -rn -o TARGET | grep -q "^$root/"; then
    log "something is still mounted under $root; unmount it first"; exit 1
  fi
  rm -rf "$root"
  log "debootstrap: Debian 12 (bookworm, minbase) into $root from $mirror"
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.debootstrap.log" 2>&1 ||
    { tail -20 "$root.debootstrap.log"; exit 1; }
fi

# What an installed system has and debootstrap leaves out: the hosts file the installer writes,
# name servers, this machine's apt sources (updates and security too), and CA certificates added
# for the local network (a TLS-inspecting proxy's, say), without which no package could be fetched.
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
cp /etc/resolv.conf "$root/etc/resolv.conf"
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/"
  rm -f "$root/etc/apt/sources.list"
elif [ -f /etc/apt/sources.list ]; then
  grep -E '^deb .* bookworm' /etc/apt/sources.list >"$root/etc/apt/sources.list" || true
fi
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  if [ -x "$root/usr/sbin/update-ca-certificates" ]; then
    chroot "$root" update-ca-certificates >/dev/null
  fi
fi

mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
# rslave: on hosts with shared mounts (systemd), unmounting the copies must not unmount the originals.
for m in sys dev; do
  mountpoint -q "$root/$m" || { mount --rbind "/$m" "$root/$m" && mount --make-rslave "$root/$m"; }
done

log "cloning HEAD ($(git -C "$KH_ROOT" rev-parse --short HEAD)) into $root/root/kakehashi"
rm -rf "$root/root/kakehashi"
git clone -q --no-local "$KH_ROOT" "$root/root/kakehashi"

# A clean environment, as a new login has; certificate variables the host sets are passed on.
inside=(env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  LANG=C.UTF-8 TERM=dumb CI=true)
for v in NODE_EXTRA_CA_CERTS SSL_CERT_FILE SSL_CERT_DIR; do
  if [ -n "${!v:-}" ]; then inside+=("$v=${!v}"); fi
done

log "inside: ./scripts/test.sh"
chroot "$root" "${inside[@]}" /bin/bash -c 'cd /root/kakehashi && ./scripts/test.sh </dev/null'

log "inside: ./scripts/run.sh --port $port, until /health answers"
# shellcheck disable=SC2016  # expanded by the shell inside the chroot
chroot "$root" "${inside[@]}" PORT="$port" /bin/bash -c '
  cd /root/kakehashi
  ./scripts/run.sh --port "$PORT" >/tmp/run.log 2>&1 &
  pid=$!
  for _ in $(seq 600); do
    if curl -sf "http://127.0.0.1:$PORT/health"; then echo; kill "$pid"; wait "$pid"; exit 0; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  cat /tmp/run.log; kill "$pid" 2>/dev/null; exit 1'
log "fresh Debian 12: both README commands work"
