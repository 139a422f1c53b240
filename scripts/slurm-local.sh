#!/usr/bin/env bash
# A local Slurm cluster for tests and benchmarks: 4 virtual nodes on
# 127.0.0.1 with a private munged, all state in DIR (tests/slurm/cluster.py
# does the work; this wrapper installs Debian's slurm-wlm and munge first
# if they are missing).
#
#   scripts/slurm-local.sh start DIR   # returns when sinfo shows 4 idle nodes
#   export SLURM_CONF=DIR/slurm.conf   # then sbatch, srun, squeue, scancel...
#   scripts/slurm-local.sh stop DIR    # stops exactly what start started
#   scripts/slurm-local.sh up DIR      # foreground; Ctrl-C or SIGTERM stops it
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
if ! command -v sbatch >/dev/null || [ ! -x /usr/sbin/slurmd ] || [ ! -x /usr/sbin/munged ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "slurm-local: installing slurm-wlm and munge"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q slurm-wlm munge
fi
exec /usr/bin/python3 "$here/tests/slurm/cluster.py" "$@"
