#!/usr/bin/env python3
"""Development helper: the accuracy-vs-minutes curve of a run folder as a Markdown table.

    python3 Scripts/accuracy_curve.py RUNDIR [RUNDIR…]

Reads RUNDIR/metrics.jsonl (one line per epoch); minutes are `elapsed_seconds` (time-budgeted runs:
the whole command's wall clock, validation included) or the running sum of `seconds`.
"""
import json
import sys


def rows(run):
    total = 0.0
    with open(f"{run}/metrics.jsonl") as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            total += r.get("seconds", 0.0)
            minutes = r.get("elapsed_seconds", total) / 60
            yield r["epoch"], minutes, r["lr"], r["train_accuracy"], r["val_accuracy"], r["val_macro_f1"], r.get("steps"), r.get("planned_steps")


for run in sys.argv[1:]:
    print(f"\n{run}\n")
    print("| epoch | minutes | lr | train acc | val acc | val macro-F1 | steps / planned |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for e, m, lr, ta, va, f1, s, p in rows(run):
        plan = f"{s} / {p}" if s is not None else ""
        print(f"| {e} | {m:.1f} | {lr:.2e} | {ta*100:.2f} | {va*100:.2f} | {f1*100:.2f} | {plan} |")
