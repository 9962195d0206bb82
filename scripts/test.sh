#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test:
#   unit tests (release and ASan+UBSan builds), integration tests of the real binary over HTTP
#   (release and ASan+UBSan binaries), and the official client SDKs against the real binary.
#   ./scripts/test.sh
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$KH_ROOT"

ensure_packages "${KH_BUILD_PACKAGES[@]}" "${KH_TEST_PACKAGES[@]}" || exit 1
ensure_node || exit 1

passed=0
failed=0
results=()

# count SUITE LOGFILE STATUS: adds a suite's numbers, read from its runner's own summary lines.
count() {
  local suite="$1" logf="$2" status="$3" p=0 f=0
  if grep -q 'tests passed, .* tests failed out of' "$logf"; then
    local total
    f=$(grep -oE '[0-9]+ tests failed out of' "$logf" | tail -1 | grep -oE '^[0-9]+')
    total=$(grep -oE 'failed out of [0-9]+' "$logf" | tail -1 | grep -oE '[0-9]+$')
    p=$((total - f))
  elif grep -qE '^# pass [0-9]+' "$logf"; then
    p=$(grep -E '^# pass [0-9]+' "$logf" | tail -1 | grep -oE '[0-9]+')
    f=$(grep -E '^# fail [0-9]+' "$logf" | tail -1 | grep -oE '[0-9]+')
  fi
  # A runner that died before its summary still counts as a failure.
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  passed=$((passed + p))
  failed=$((failed + f))
  results+=("$(printf '%-34s %4d passed, %d failed' "$suite" "$p" "$f")")
}

# run SUITE CMD...: runs a suite with its output shown and kept for counting.
run() {
  local suite="$1"; shift
  local logf
  logf=$(mktemp)
  log "$suite"
  "$@" 2>&1 | tee "$logf"
  local status=${PIPESTATUS[0]}
  count "$suite" "$logf" "$status"
  rm -f "$logf"
}

log "building (release)"
build build all -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKH_BUILD_TESTS=ON || exit 1
log "building (ASan+UBSan)"
build build-asan all -DCMAKE_BUILD_TYPE=Debug -DKH_SANITIZE=ON -DKH_BUILD_TESTS=ON || exit 1

if [ ! -d tests/clients/node_modules ] || [ tests/clients/package-lock.json -nt tests/clients/node_modules ]; then
  log "installing client SDKs (npm ci)"
  (cd tests/clients && npm ci --no-audit --no-fund --loglevel=error) || exit 1
  touch tests/clients/node_modules
fi

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

run "unit (release)" ctest --test-dir build --output-on-failure
run "unit (asan+ubsan)" ctest --test-dir build-asan --output-on-failure
run "integration (release)" env KAKEHASHI_BIN="$KH_ROOT/build/kakehashi" \
  node --test tests/fake_upstream/ tests/integration/
run "integration (asan+ubsan)" env KAKEHASHI_BIN="$KH_ROOT/build-asan/kakehashi" \
  node --test tests/integration/
run "client SDKs (openai, anthropic)" env KAKEHASHI_BIN="$KH_ROOT/build/kakehashi" \
  bash -c 'cd tests/clients && node --test'

echo
for r in "${results[@]}"; do echo "  $r"; done
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
