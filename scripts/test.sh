#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what it needs, builds, runs every test.
#   1. plain build (RelWithDebInfo) + ctest
#   2. sanitizer build (ASan + UBSan) + ctest
#   3. libFuzzer build (clang) + each fuzzer for a bounded number of runs
#   4. the docker compose end-to-end test (when Docker is usable; always under CI=true)
# SC_TEST_STAGES="plain asan fuzz e2e" selects stages; SC_JOBS sets build parallelism.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
stages=${SC_TEST_STAGES:-plain asan fuzz e2e}
jobs=${SC_JOBS:-$(nproc)}

bash scripts/deps.sh

has_stage() { [[ " $stages " == *" $1 "* ]]; }
summary=()

run_ctest() {  # dir, extra ctest args...
  local dir=$1; shift
  ctest --test-dir "$dir" --output-on-failure --timeout 600 -j "$jobs" "$@"
}

if has_stage plain; then
  cmake -S . -B build/plain -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
  cmake --build build/plain -j "$jobs"
  run_ctest build/plain
  summary+=("plain: ok")
fi

if has_stage asan; then
  cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSC_SANITIZE=address,undefined
  cmake --build build/asan -j "$jobs"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_ctest build/asan -LE "bench|e2e"
  summary+=("asan+ubsan: ok")
fi

if has_stage fuzz; then
  # clang 16: libstdc++ 12 enables <expected> only for compilers with C++20 concepts (clang 14 lacks them).
  CC=clang-16 CXX=clang++-16 cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSC_FUZZ=ON
  fuzzers=$(cmake --build build/fuzz --target help | sed -n 's/^\(fuzz_[a-z0-9_]*\):.*/\1/p' | tr '\n' ' ')
  if [[ -n $fuzzers ]]; then
    # shellcheck disable=SC2086
    cmake --build build/fuzz -j "$jobs" --target $fuzzers
    run_ctest build/fuzz -L fuzz
    summary+=("fuzz: ok ($fuzzers)")
  fi
fi

if has_stage e2e; then
  if [[ ${CI:-} == true ]] || { command -v docker >/dev/null && docker info >/dev/null 2>&1; }; then
    bash tests/e2e/compose.sh
    summary+=("e2e compose: ok")
  else
    echo "e2e: skipped — Docker is not usable here (CI=true installs and starts it)"
    summary+=("e2e compose: skipped (no Docker)")
  fi
fi

printf '%s\n' "${summary[@]}"
