#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: install packages,
# build with -Werror, run every unit test and scenario; then the same unit
# tests and scenarios under AddressSanitizer + UBSan, and the unit tests
# under valgrind.  Exits non-zero on the first failing stage.
set -euo pipefail
cd "$(dirname "$0")/.."
MUSTER_WITH_TORCH=1 ./scripts/install-deps.sh  # python3-torch: the PyTorch tests run too
jobs=$(nproc)

echo "== build (Release + -Werror) =="
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMUSTER_WERROR=ON -DMUSTER_VALGRIND=ON >/dev/null
cmake --build build -j"$jobs"
echo "== tests =="
(cd build && ctest --output-on-failure -LE valgrind -j"$jobs")

echo "== build (ASan + UBSan) =="
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMUSTER_WERROR=ON -DMUSTER_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
echo "== tests under ASan + UBSan =="
# Everything but the PyTorch trainings, the Slurm cluster and the docs
# check: those run Python (torch, slurmd) over the same C paths the other
# scenarios cover, take minutes, and find nothing more under ASan.
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
   ctest --output-on-failure -j"$jobs" -LE 'torch|slurm|docs')

echo "== unit tests under valgrind =="
(cd build && ctest --output-on-failure -L valgrind -j"$jobs")
echo "all tests passed"
