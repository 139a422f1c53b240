#!/bin/sh
# hello.sh — a worker that knows nothing of muster: it reads only the
# environment every worker gets (the same variables torchrun sets), as an
# unmodified PyTorch program would.
#
#   muster run --nproc-per-node 4 -- ./hello.sh
set -eu
echo "rank ${RANK}/${WORLD_SIZE} local ${LOCAL_RANK}/${LOCAL_WORLD_SIZE}" \
     "node ${GROUP_RANK}/${GROUP_WORLD_SIZE}" \
     "role ${ROLE_NAME}[${ROLE_RANK}/${ROLE_WORLD_SIZE}]" \
     "master ${MASTER_ADDR}:${MASTER_PORT}" \
     "restart ${TORCHELASTIC_RESTART_COUNT}/${TORCHELASTIC_MAX_RESTARTS}" \
     "run ${TORCHELASTIC_RUN_ID}"
