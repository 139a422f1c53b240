#!/usr/bin/env bash
# Install the Debian packages muster needs to build, test and run its
# examples.  Beyond the build: slurm-wlm and munge (the local Slurm cluster
# of the Slurm tests, tests/slurm/cluster.py); systemd (`systemd-analyze
# verify` of deploy/systemd); python3-yaml (the offline check of
# deploy/k8s); iproute2 (the network namespaces of tests/chaos);
# libpmix-dev and libhwloc-dev (the PMIx server of `muster run --mpi`) and
# python3-mpi4py (its mpi4py test); libyaml-dev (job spec files);
# libmicrohttpd-dev (the Prometheus metrics endpoints); libsodium-dev (the
# CURVE of musterd's own agent port, common/zmtp_curve.c).  Safe to run
# again: packages already present are skipped, and apt-get update runs only
# when something is missing.
set -euo pipefail
pkgs=(build-essential cmake pkg-config
      libzmq3-dev libczmq-dev libmsgpack-dev libuv1-dev libcmocka-dev
      libopenmpi-dev openmpi-bin libpmix-dev libhwloc-dev libyaml-dev
      libmicrohttpd-dev libsodium-dev
      python3 python3-zmq python3-msgpack python3-yaml python3-mpi4py valgrind
      slurm-wlm munge systemd iproute2)
if [ "${MUSTER_WITH_TORCH:-0}" = 1 ]; then
  pkgs+=(python3-torch)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
fi
