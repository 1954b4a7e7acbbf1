#!/usr/bin/env python3
"""ONNX Runtime column of Scripts/bench.sh (development only; ONNX Runtime is never a dependency of adnn).

Exports the PyTorch twin of the config (Scripts/bench_torch.py --export-onnx, in its own process, so this
process never imports torch and its peak RSS is ONNX Runtime's alone), then times `InferenceSession.run`
with all graph optimisations, `intra_op_num_threads = --threads`, one inter-op thread, on the same
input shape as `adnn bench --mode infer`. Prints one JSON line with the keys of `adnn bench --json`.

    python3 Scripts/bench_ort.py --config Configs/fer2013-cpu.yaml --batch 1 --seconds 10 --threads 2
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort
import yaml


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    with open(a.config) as fh:
        m = (yaml.safe_load(fh) or {}).get("model", {})
    s, cin = m.get("input_size", 224), m.get("in_chans", 3)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.onnx")
        here = os.path.dirname(os.path.abspath(__file__))
        subprocess.run([sys.executable, os.path.join(here, "bench_torch.py"), "--config", a.config,
                        "--batch", str(a.batch), "--export-onnx", path], check=True, stdout=subprocess.DEVNULL)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        if a.threads:
            opts.intra_op_num_threads = a.threads
        opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((a.batch, cin, s, s), dtype=np.float32)
    feed = {sess.get_inputs()[0].name: x}
    for _ in range(a.warmup):
        sess.run(None, feed)
    cpu0 = time.process_time()
    start = time.perf_counter()
    iters, times = 0, []
    while True:
        t0 = time.perf_counter()
        sess.run(None, feed)
        times.append((time.perf_counter() - t0) * 1000)
        iters += 1
        if time.perf_counter() - start >= a.seconds:
            break
    elapsed = time.perf_counter() - start
    ips = iters * a.batch / elapsed
    res = {"mode": "infer", "batch": a.batch, "images_per_second": ips,
           "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "threads": a.threads,
           "iterations": iters, "seconds": elapsed, "cpu_seconds": time.process_time() - cpu0,
           "iteration_ms_min": min(times), "iteration_ms_median": sorted(times)[len(times) // 2],
           "config": a.config, "framework": "onnxruntime " + ort.__version__}
    if a.json:
        print(json.dumps(res, sort_keys=True))
    else:
        print(f"infer batch {a.batch}: {ips:.2f} images/s ({iters} iterations in {elapsed:.1f} s), "
              f"peak RSS {res['peak_rss_mib']:.0f} MiB ({res['framework']})")


if __name__ == "__main__":
    main()
