#!/usr/bin/env bash
# Install what is needed, build, and run the example job on the embedded
# coordinator: four workers train (examples/ckpt_train), checkpoint every
# second, rank 2 crashes half-way, and the gang restarts from the newest
# complete checkpoint and finishes in the same state as a run that never
# crashed.  (examples/hello_gang is the smaller tour of ranks, peers, the
# KV store and barriers: build/bin/muster run --nproc-per-node 4 -- build/bin/hello_gang)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target muster_cli muster-exec ckpt_train hello_gang >/dev/null
ckpt=$(mktemp -d /tmp/muster-example-XXXXXX)
trap 'rm -rf "$ckpt"' EXIT
build/bin/muster run --nproc-per-node 4 --max-restarts 1 \
  --ckpt-dir "$ckpt" --ckpt-every 1s -- \
  build/bin/ckpt_train --steps 1500 --step-ms 2 --crash-at 900 --crash-rank 2
