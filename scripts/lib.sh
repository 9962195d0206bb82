# Shared by the entry-point scripts: package installation and the CMake builds.
# shellcheck shell=bash

KH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Packages to build and run the gateway (Debian 12). Boost 1.81, not the default 1.74.
KH_BUILD_PACKAGES=(g++ cmake ninja-build pkg-config ca-certificates
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libssl-dev
  libsimdjson-dev libyaml-cpp-dev libcli11-dev libfmt-dev libjemalloc-dev)
# Extra packages to run the tests.
KH_TEST_PACKAGES=(libgtest-dev nodejs curl openssl)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else log "need root to run: $*"; return 1; fi
}

# Installs only the packages that are missing, so a second run costs a dpkg query.
ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

# npm comes with some Node.js builds and separately with Debian's; make sure both exist.
ensure_node() {
  ensure_packages nodejs
  command -v npm >/dev/null 2>&1 || ensure_packages npm
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  if [ "$major" -lt 18 ]; then log "Node.js 18 or newer is needed (found $(node --version))"; return 1; fi
}

# build DIR TARGET [cmake args...]: (re)configure with the given options, then let ninja decide
# what is stale, so an unchanged tree builds in seconds.
build() {
  local dir="$1" target="$2"; shift 2
  cmake -S "$KH_ROOT" -B "$KH_ROOT/$dir" -G Ninja -Wno-dev "$@" >/dev/null
  ninja -C "$KH_ROOT/$dir" -j "$(nproc)" "$target" >&2
}
