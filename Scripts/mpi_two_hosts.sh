#!/usr/bin/env bash
# Two hosts for real, on one machine: two network namespaces (adnn-h1, adnn-h2) joined by a veth pair
# with addresses of their own (10.77.0.1/24, 10.77.0.2/24), one rank in each, mpirun over TCP between
# them (Open MPI's rsh launcher with Scripts/netns_rsh in place of ssh), running the equivalence check
# of adnn-mpi-check: 2 ranks with batch B/2 each vs one process with batch B.
# Usage (as root): bash Scripts/mpi_two_hosts.sh [adnn-mpi-check equivalence options...]
#            or:     bash Scripts/mpi_two_hosts.sh train
#   train: `adnn train` itself. A one-process run of 2 epochs (BN learning its statistics) is resumed
#   for 2 more epochs by one process (batch 16) and by mpirun with one rank per namespace (8 + 8; SGD,
#   augmentation with mixup and cutout on, centers and DLS on, --freeze-bn); the two last.safetensors are compared tensor by
#   tensor (adnn-mpi-check compare, ≤ 1e-5 relative).
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
adnn="$root/.build/release/adnn"
[ "${1:-}" != train ] || [ -x "$adnn" ] || swift build -c release --product adnn

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
train_check() {
  cat > "$out/c.yaml" <<'YAML'
model: {backbone: efficientnet_b0, in_chans: 1, input_size: 24, num_classes: 7, cbam: null, transformer: null, drop_rate: 0.0, drop_path_rate: 0.0}
loss: {ce: 0.6, center: 0.25, dls: 0.15, center_alpha: 0.5, center_per_dim: true}
optim: {name: sgd, lr: 0.05, weight_decay: 1.0e-4, layer_decay: 1.0}
schedule: {epochs: 4, warmup_epochs: 0, patience: 0}
data: {format: synthetic, batch_size: 16, clahe: false, mean: [0.5], std: [0.25], workers: 1}
augment: {hflip: 0.5, crop: 0.5, color_jitter: 0.3, rotate: 0.3, noise: 0.1, cutout: 0.3, mixup: 0.5}
seed: 5
YAML
  local args=(train --config "$out/c.yaml" --data synthetic:train=128,val=32,test=0,size=24)
  local lines='^(distributed|training|resumed|epoch [0-9]+/[0-9]+  loss)'
  plain() { sed 's/\x1b\[2K/\n/g; s/\r/\n/g' "$@" | grep -E "$lines" || true; }
  echo "== base: one process, 2 epochs with BN learning its statistics"
  ADNN_NUM_THREADS=1 "$adnn" "${args[@]}" --epochs 2 --out "$out/base" > "$out/base.log" 2>&1 || { tail -5 "$out/base.log"; return 1; }
  plain "$out/base.log"
  cp -r "$out/base" "$out/one"; cp -r "$out/base" "$out/two"
  echo "== one process: --resume for epochs 3-4 (batch 16, --freeze-bn)"
  ADNN_NUM_THREADS=1 "$adnn" "${args[@]}" --resume --epochs 4 --freeze-bn --out "$out/one" > "$out/one.log" 2>&1 || { tail -5 "$out/one.log"; return 1; }
  plain "$out/one.log"
  echo "== 2 ranks on 2 hosts: mpirun -np 2 adnn train --resume (8 + 8 per step, --freeze-bn)"
  local before after status
  before=$(rx)
  set +e
  ip netns exec adnn-h1 unshare --uts /bin/sh -c 'hostname adnn-h1 && exec "$@"' sh \
    mpirun --allow-run-as-root -np 2 --hostfile "$hostfile" --map-by node \
      --mca plm_rsh_agent "$root/Scripts/netns_rsh" --mca plm_rsh_no_tree_spawn 1 \
      --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24 \
      -x ADNN_NUM_THREADS=1 \
      "$adnn" "${args[@]}" --resume --epochs 4 --freeze-bn --out "$out/two" > "$out/two.log" 2>&1
  status=$?
  set -e
  after=$(rx)
  plain "$out/two.log"
  [ $status -eq 0 ] || { tail -20 "$out/two.log"; return $status; }
  echo "veth adnn-v2 received $((after - before)) bytes during the run"
  echo "run folder of the 2-rank run (rank 0 writes it): $(ls "$out/two" | tr '\n' ' ')"
  echo "== how far the 16 resumed steps moved the weights (one process vs base; FAIL expected)"
  "$helper" compare --a "$out/one/last.safetensors" --b "$out/base/last.safetensors" | tail -1 || true
  echo "== 2 ranks on 2 hosts vs one process"
  "$helper" compare --a "$out/two/last.safetensors" --b "$out/one/last.safetensors" --tolerance 1e-5
}
status=0
if [ "${1:-}" = train ]; then
  train_check || status=$?
elif [ $# -gt 0 ]; then
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
