#!/usr/bin/env bash
# Install what is needed (python3-torch included), build, and run the best
# example job on the embedded coordinator: examples/torch_ctr, a DLRM-style
# click-through model, trained with PyTorch DDP by 4 workers in in-place
# elastic mode.  Rank 1 crashes at step 120; the 3 survivors keep their
# processes (same pids), muster re-forms the gang in place, the replacement
# takes the model and optimizer state from rank 0, and training goes on to
# its stated held-out AUC (the last line says `reached`).
# (The C tour: build/bin/muster run --nproc-per-node 4 -- build/bin/hello_gang;
# a crash with checkpoints in C: examples/ckpt_train/README.md.)
# Mirrored by tests/scenarios/test_35_torch_ctr_inplace.py
# (test_embedded_crash_in_place).
set -euo pipefail
cd "$(dirname "$0")/.."
MUSTER_WITH_TORCH=1 ./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" \
  --target muster_cli muster-exec muster muster_python ckpt_train hello_gang >/dev/null
export PYTHONPATH="$PWD/build/python${PYTHONPATH:+:$PYTHONPATH}"
exec build/bin/muster run --nproc-per-node 4 --elastic-mode in-place \
  --max-restarts 1 --python /usr/bin/python3 -- \
  examples/torch_ctr/train.py --inplace --crash-at-step 120 --steps 300
