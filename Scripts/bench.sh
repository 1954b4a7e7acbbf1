#!/usr/bin/env bash
# Side-by-side throughput of `adnn bench`, its PyTorch twin (Scripts/bench_torch.py) and, for inference,
# ONNX Runtime running the twin exported with torch.onnx (Scripts/bench_ort.py), on this machine.
#
#   bash Scripts/bench.sh                 # build release, 5 rows, Markdown table on stdout
#   ROUNDS=3 THREADS=2 bash Scripts/bench.sh
#
# For every row they run back to back, alternating, ROUNDS times, with the same thread count,
# batch, warm-up and measurement window. PyTorch runs in each variant of TORCH_VARIANTS
# (wait-policy:memory-format; default "passive:cl passive:nchw default:cl" — libgomp's spinning default
# wait policy collapses when the cores are shared with other jobs, OMP_WAIT_POLICY=PASSIVE does not, and
# channels_last is usually PyTorch's faster CPU layout) and its fastest variant counts in each round. The table gives medians over rounds; ratio = adnn ÷ PyTorch; peak memory is the
# largest peak RSS seen (VmHWM / ru_maxrss). Raw JSON lines go to $OUT (default bench-results.jsonl).
# ORT=0 leaves out the ONNX Runtime column. HALF=1 also runs every inference row with `adnn bench --half-weights`
# (the weights rounded to half precision, as `adnn export --half` stores them and as the shipped models are:
# half-precision weight panels) right after the Float run, as extra columns. Development only: PyTorch and ONNX Runtime
# (`pip install torch timm onnx onnxruntime pyyaml`) are never run-time dependencies of adnn.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-2}
THREADS=${THREADS:-$(nproc)}
OUT=${OUT:-bench-results.jsonl}
ORT=${ORT:-1}
HALF=${HALF:-0}
TORCH_VARIANTS=${TORCH_VARIANTS:-"passive:cl passive:nchw default:cl"}
PY=${PYTHON:-python3}

# ADNN_BIN=path runs that binary (a release build made elsewhere) instead of building .build/release/adnn.
if [ -n "${ADNN_BIN:-}" ]; then
  BIN=$ADNN_BIN
else
  swift build -c release --product adnn >&2
  BIN=.build/release/adnn
fi
: > "$OUT"

# config mode batch seconds warmup
ROWS=(
  "bench-small infer 1 10 2"
  "bench-small infer 32 10 2"
  "bench-small train 16 10 2"
  "fer2013-cpu infer 1 10 2"
  "fer2013-cpu infer 64 10 1"
  "fer2013-cpu train 64 15 1"
  "adnn-fer-paper infer 1 10 1"
  "adnn-fer-paper train 4 15 1"
)
# BENCH_ONLY="fer2013-cpu" (a space-separated list of configs) runs only those rows.
if [ -n "${BENCH_ONLY:-}" ]; then
  kept=()
  for row in "${ROWS[@]}"; do for c in $BENCH_ONLY; do [ "${row%% *}" = "$c" ] && kept+=("$row"); done; done
  ROWS=("${kept[@]}")
fi

psi() { [ -r /proc/pressure/cpu ] && head -1 /proc/pressure/cpu | sed 's/^some //' || echo "n/a"; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); threads $THREADS; rounds $ROUNDS; CPU pressure at start: $(psi)" >&2

for row in "${ROWS[@]}"; do
  read -r cfg mode batch secs warm <<< "$row"
  for r in $(seq "$ROUNDS"); do
    echo "[$cfg $mode b$batch] round $r: adnn" >&2
    "$BIN" bench --config "Configs/$cfg.yaml" --mode "$mode" --batch "$batch" --seconds "$secs" --warmup "$warm" \
      --threads "$THREADS" --json | "$PY" -c "import json,sys; d=json.load(sys.stdin); d.update(row='$cfg $mode $batch', side='adnn', round=$r); print(json.dumps(d))" >> "$OUT"
    if [ "$mode" = infer ] && [ "$HALF" = 1 ]; then
      echo "[$cfg $mode b$batch] round $r: adnn --half-weights" >&2
      "$BIN" bench --config "Configs/$cfg.yaml" --mode "$mode" --batch "$batch" --seconds "$secs" --warmup "$warm" \
        --threads "$THREADS" --half-weights --json | "$PY" -c "import json,sys; d=json.load(sys.stdin); d.update(row='$cfg $mode $batch', side='adnn-half', round=$r); print(json.dumps(d))" >> "$OUT"
    fi
    for variant in $TORCH_VARIANTS; do
      pol=${variant%%:*}; fmt=${variant#*:}
      echo "[$cfg $mode b$batch] round $r: pytorch ($pol wait policy, $fmt)" >&2
      if [ "$pol" = default ]; then envs=(X_ADNN_BENCH=1); else envs=(OMP_WAIT_POLICY="${pol^^}"); fi
      if [ "$fmt" = cl ]; then fmtflag=(--channels-last); else fmtflag=(); fi
      env "${envs[@]}" "$PY" Scripts/bench_torch.py --config "Configs/$cfg.yaml" --mode "$mode" --batch "$batch" --seconds "$secs" \
        --warmup "$warm" --threads "$THREADS" "${fmtflag[@]}" --json | "$PY" -c "import json,sys; d=json.load(sys.stdin); d.update(row='$cfg $mode $batch', side='torch', policy='$variant', round=$r); print(json.dumps(d))" >> "$OUT"
    done
    if [ "$mode" = infer ] && [ "$ORT" = 1 ]; then
      echo "[$cfg $mode b$batch] round $r: onnxruntime" >&2
      "$PY" Scripts/bench_ort.py --config "Configs/$cfg.yaml" --batch "$batch" --seconds "$secs" --warmup "$warm" \
        --threads "$THREADS" --json | "$PY" -c "import json,sys; d=json.load(sys.stdin); d.update(row='$cfg $mode $batch', side='ort', round=$r); print(json.dumps(d))" >> "$OUT"
    fi
  done
done
echo "CPU pressure at end: $(psi)" >&2

"$PY" - "$OUT" "$THREADS" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
order = []
for d in rows:
    if d["row"] not in order:
        order.append(d["row"])
print(f"threads {sys.argv[2]}; medians over rounds (PyTorch: its fastest variant in each round)\n")
half = any(d["side"] == "adnn-half" for d in rows)
print("| config | mode | batch | adnn img/s | PyTorch img/s | ONNX Runtime img/s | adnn ÷ PyTorch | adnn ÷ ORT "
      "| adnn peak MiB | PyTorch peak MiB | ORT peak MiB |" + (" adnn half-weights img/s | half ÷ ORT | half peak MiB |" if half else ""))
print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|---:|" if half else ""))
for key in order:
    cfg, mode, batch = key.split()
    a = [d for d in rows if d["row"] == key and d["side"] == "adnn"]
    t = [d for d in rows if d["row"] == key and d["side"] == "torch"]
    o = [d for d in rows if d["row"] == key and d["side"] == "ort"]
    a_ips = statistics.median(d["images_per_second"] for d in a)
    per_round = {}
    for d in t:
        per_round[d["round"]] = max(per_round.get(d["round"], 0), d["images_per_second"])
    t_ips = statistics.median(per_round.values())
    a_mem = max(d["peak_rss_mib"] for d in a)
    t_mem = max(d["peak_rss_mib"] for d in t)
    if o:
        o_ips = statistics.median(d["images_per_second"] for d in o)
        ort, ratio_o, mem_o = f"{o_ips:.2f}", f"{a_ips / o_ips:.2f}", f"{max(d['peak_rss_mib'] for d in o):.0f}"
    else:
        ort = ratio_o = mem_o = "–"
    extra = ""
    h = [d for d in rows if d["row"] == key and d["side"] == "adnn-half"]
    if half:
        if h:
            h_ips = statistics.median(d["images_per_second"] for d in h)
            extra = f" {h_ips:.2f} | {h_ips / o_ips:.2f} | {max(d['peak_rss_mib'] for d in h):.0f} |" if o else f" {h_ips:.2f} | – | – |"
        else:
            extra = " – | – | – |"
    print(f"| {cfg} | {mode} | {batch} | {a_ips:.2f} | {t_ips:.2f} | {ort} | {a_ips / t_ips:.2f} | {ratio_o} "
          f"| {a_mem:.0f} | {t_mem:.0f} | {mem_o} |" + extra)
print()
for key in order:
    a = [f"{d['images_per_second']:.2f}" for d in rows if d["row"] == key and d["side"] == "adnn"]
    t = [f"{d['images_per_second']:.2f}({d['policy']})" for d in rows if d["row"] == key and d["side"] == "torch"]
    o = [f"{d['images_per_second']:.2f}" for d in rows if d["row"] == key and d["side"] == "ort"]
    h = [f"{d['images_per_second']:.2f}" for d in rows if d["row"] == key and d["side"] == "adnn-half"]
    print(f"- {key}: adnn {', '.join(a)}" + (f"; adnn half-weights {', '.join(h)}" if h else "") + f"; PyTorch {', '.join(t)}"
          + (f"; ONNX Runtime {', '.join(o)}" if o else ""))
EOF
