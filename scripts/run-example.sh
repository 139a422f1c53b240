#!/usr/bin/env bash
# Install what is needed, build, and run the example gang on the embedded
# coordinator: four workers that find each other through libmuster (ranks,
# peers, a KV exchange and a barrier).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target muster_cli muster-exec hello_gang >/dev/null
exec build/bin/muster run --nproc-per-node 4 -- build/bin/hello_gang
