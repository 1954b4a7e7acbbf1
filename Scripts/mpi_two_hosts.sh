#!/usr/bin/env bash
# Two hosts for real, on one machine: two network namespaces (adnn-h1, adnn-h2) joined by a veth pair
# with addresses of their own (10.77.0.1/24, 10.77.0.2/24), one rank in each, mpirun over TCP between
# them (Open MPI's rsh launcher with Scripts/netns_rsh in place of ssh), running the equivalence check
# of adnn-mpi-check: 2 ranks with batch B/2 each vs one process with batch B.
# Usage (as root): bash Scripts/mpi_two_hosts.sh [adnn-mpi-check equivalence options...]
#   without options: SGD from random weights (step body, then the real Trainer.step + gradientHook),
#   then AdamW from ../shared/models' Lite0 weights if present.
# Cleans up the namespaces on exit. Traffic only inside the namespaces it creates.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
[ "$(id -u)" -eq 0 ] || { echo "mpi_two_hosts.sh: needs root (ip netns)" >&2; exit 1; }
command -v ip >/dev/null || { apt-get install -y -qq iproute2; }
command -v mpirun >/dev/null || { echo "mpi_two_hosts.sh: mpirun not found (apt-get install openmpi-bin)" >&2; exit 1; }
helper="$root/.build/release/adnn-mpi-check"
[ -x "$helper" ] || swift build -c release --product adnn-mpi-check

cleanup() {
  for ns in adnn-h1 adnn-h2; do
    if ip netns list | grep -qw "$ns"; then
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
      ip netns del "$ns" 2>/dev/null || true
    fi
  done
}
trap cleanup EXIT
cleanup

ip netns add adnn-h1
ip netns add adnn-h2
ip link add adnn-v1 netns adnn-h1 type veth peer name adnn-v2 netns adnn-h2
ip -n adnn-h1 addr add 10.77.0.1/24 dev adnn-v1
ip -n adnn-h2 addr add 10.77.0.2/24 dev adnn-v2
for ns in adnn-h1 adnn-h2; do ip -n "$ns" link set lo up; done
ip -n adnn-h1 link set adnn-v1 up
ip -n adnn-h2 link set adnn-v2 up
echo "hosts: adnn-h1 10.77.0.1 (rank 0, mpirun) <-veth-> adnn-h2 10.77.0.2 (rank 1)"

hostfile=$(mktemp); printf 'adnn-h1 slots=1\nadnn-h2 slots=1\n' > "$hostfile"
out=$(mktemp -d)
rx() { ip -n adnn-h2 -s link show adnn-v2 | awk '/RX:/{getline; print $1}'; }
check() {
  echo "== adnn-mpi-check equivalence $*"
  local before after status
  before=$(rx)
  set +e
  ip netns exec adnn-h1 unshare --uts /bin/sh -c 'hostname adnn-h1 && exec "$@"' sh \
    mpirun --allow-run-as-root -np 2 --hostfile "$hostfile" --map-by node \
      --mca plm_rsh_agent "$root/Scripts/netns_rsh" --mca plm_rsh_no_tree_spawn 1 \
      --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24 \
      -x ADNN_NUM_THREADS=1 \
      "$helper" equivalence --out "$out" "$@"
  status=$?
  set -e
  after=$(rx)
  echo "veth adnn-v2 received $((after - before)) bytes during the run"
  return $status
}
status=0
if [ $# -gt 0 ]; then
  check "$@" || status=$?
else
  check --optimizer sgd || status=$?
  check --optimizer sgd --via-step 1 || status=$?
  weights="$root/../shared/models/tf_efficientnet_lite0.in1k.safetensors"
  if [ -f "$weights" ]; then check --optimizer adamw --pretrained "$weights" || status=$?
  else echo "skipping the AdamW check: $weights not present"; fi
fi
rm -f "$hostfile"; rm -rf "$out"
exit $status
