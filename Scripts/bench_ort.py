#!/usr/bin/env python3
"""ONNX Runtime column of Scripts/bench.sh (development only; ONNX Runtime is never a dependency of adnn).

Exports the PyTorch twin of the config (Scripts/bench_torch.py --export-onnx, in its own process, so this
process never imports torch and its peak RSS is ONNX Runtime's alone), then times `InferenceSession.run`
with all graph optimisations, `intra_op_num_threads = --threads`, one inter-op thread, on the same
input shape as `adnn bench --mode infer`. Prints one JSON line with the keys of `adnn bench --json`.

    python3 Scripts/bench_ort.py --config Configs/fer2013-cpu.yaml --batch 1 --seconds 10 --threads 2
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort
import yaml

from bench_timing import measure, report


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
    res = measure(lambda: sess.run(None, feed), a.batch, a.warmup, a.seconds)
    res.update({"mode": "infer", "batch": a.batch, "threads": a.threads, "config": a.config,
                "framework": "onnxruntime " + ort.__version__})
    report(res, a.json, f"peak RSS {res['peak_rss_mib']:.0f} MiB ({res['framework']})")


if __name__ == "__main__":
    main()
