#!/usr/bin/env bash
# Installs what is missing, builds the gateway and runs `kakehashi serve` with any extra arguments:
#   ./scripts/run.sh [--config FILE] [--port N] ...
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_packages "${KH_BUILD_PACKAGES[@]}"
log "building (release)"
build build kakehashi -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKH_BUILD_TESTS=OFF
exec "$KH_ROOT/build/kakehashi" serve "$@"
