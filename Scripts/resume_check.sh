#!/usr/bin/env bash
# Kill -9 a training run mid-epoch, resume it, and compare its metrics with an uninterrupted run of
# the same seed (timing columns excluded). Usage: Scripts/resume_check.sh [CONFIG] [KILL_AFTER_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${1:-Configs/ablation-tiny.yaml}
KILL_AFTER=${2:-6}
BIN=${ADNN:-.build/release/adnn}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
ARGS=(--config "$CONFIG" --epochs 3 --threads 1)
"$BIN" train "${ARGS[@]}" --out "$OUT/full" > "$OUT/full.log"
"$BIN" train "${ARGS[@]}" --out "$OUT/killed" > "$OUT/killed.log" 2>&1 &
PID=$!
# Wait until the first epoch is checkpointed, then kill in the middle of a later epoch.
while [ ! -s "$OUT/killed/metrics.jsonl" ]; do sleep 0.2; done
sleep "$KILL_AFTER"
kill -9 "$PID" 2>/dev/null || true
wait "$PID" 2>/dev/null || true
echo "killed after $(wc -l < "$OUT/killed/metrics.jsonl") completed epoch(s)"
"$BIN" train "${ARGS[@]}" --out "$OUT/killed" --resume > "$OUT/resumed.log"
strip() { python3 -c "import json,sys
for l in open(sys.argv[1]):
    d=json.loads(l); d.pop('seconds'); d.pop('images_per_second'); print(json.dumps(d, sort_keys=True))" "$1"; }
if diff <(strip "$OUT/full/metrics.jsonl") <(strip "$OUT/killed/metrics.jsonl"); then
  echo "identical metrics.jsonl (timing columns excluded):"; strip "$OUT/full/metrics.jsonl"
else
  echo "MISMATCH"; exit 1
fi
