# Shared by the entry-point scripts: package installation and the CMake builds.
# shellcheck shell=bash

KH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Packages to build and run the gateway (Debian 12). Boost 1.81, not the default 1.74.
KH_BUILD_PACKAGES=(g++ cmake ninja-build pkg-config ca-certificates
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libssl-dev
  libsimdjson-dev libyaml-cpp-dev libcli11-dev libfmt-dev libjemalloc-dev)
# Extra packages to run the tests.
KH_TEST_PACKAGES=(libgtest-dev nodejs curl)

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

# A fingerprint of what the gateway's profile depends on: its code, the training load and the
# cases it replays.
pgo_stamp() {
  (cd "$KH_ROOT" && find src tools tests/golden CMakeLists.txt -type f -print0 | sort -z |
    xargs -0 sha1sum | sha1sum | cut -c1-16)
}

# build_release DIR TARGET [cmake args...]: the release build, profile-guided. When the code has
# changed since DIR's profile was made, an instrumented build in DIR-pgo serves the training load
# (tools/pgo_train.cpp) and the profile it writes is kept in DIR/pgo-profile; DIR is then built
# from it. KH_PGO=0, or a training that fails, builds without a profile.
build_release() {
  local dir="$1" target="$2"; shift 2
  if [ "${KH_PGO:-1}" = 0 ]; then
    build "$dir" "$target" -DKH_PGO= "$@"
    return
  fi
  local stamp profile gen
  stamp=$(pgo_stamp)
  profile="$KH_ROOT/$dir/pgo-profile"
  gen="$dir-pgo"
  if [ "$(cat "$profile/stamp" 2>/dev/null)" != "$stamp" ]; then
    log "profiling the gateway under a training load (KH_PGO=0 skips this)"
    rm -rf "${KH_ROOT:?}/$gen/profile" "$KH_ROOT/$gen/train"
    if build "$gen" kakehashi -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKH_BUILD_TESTS=OFF \
        -DKH_PGO=generate -DKH_PGO_DIR="$KH_ROOT/$gen/profile" &&
      ninja -C "$KH_ROOT/$gen" kh_pgo_train >&2 &&
      "$KH_ROOT/$gen/kh_pgo_train" "$KH_ROOT/$gen/kakehashi" "$KH_ROOT/tests/golden" \
        "$KH_ROOT/$gen/train" >&2; then
      rm -rf "$profile"
      mkdir -p "$KH_ROOT/$dir"
      cp -r "$KH_ROOT/$gen/profile" "$profile"
      echo "$stamp" >"$profile/stamp"
    else
      log "the training load failed: building without a profile"
      build "$dir" "$target" -DKH_PGO= "$@"
      return
    fi
  fi
  build "$dir" "$target" -DKH_PGO=use -DKH_PGO_DIR="$profile" -DKH_PGO_PROFILE="$stamp" "$@"
}
