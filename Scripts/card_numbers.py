#!/usr/bin/env python3
"""Development helper for models/README.md: accuracy, macro-F1, per-class F1 and ECE (10 equal-width
confidence bins, Guo et al. 2017 — the same bins as `adnn report`) of a run's predictions.json.

    python3 Scripts/card_numbers.py RUNDIR
"""
import json
import sys

run = sys.argv[1]
pred = json.load(open(f"{run}/predictions.json"))
ev = json.load(open(f"{run}/eval.json"))
labels, probs = pred["labels"], pred["probabilities"]
classes = ev["classes"]
n = len(labels)
bins = [[0, 0, 0.0] for _ in range(10)]
for y, p in zip(labels, probs):
    best = max(range(len(p)), key=lambda j: p[j])
    c = min(max(p[best], 0.0), 1.0)
    b = min(int(c * 10), 9)
    bins[b][0] += 1
    bins[b][1] += best == y
    bins[b][2] += c
ece = sum(cnt / n * abs(ok / cnt - conf / cnt) for cnt, ok, conf in bins if cnt)
print(f"images {n}  accuracy {ev['accuracy']*100:.2f} %  macro-F1 {ev['macro_f1']*100:.2f} %  "
      f"balanced {ev['balanced_accuracy']*100:.2f} %  AUC {ev['auc_macro_ovr']:.4f}  ECE {ece*100:.2f} %  tta {ev.get('tta', '?')}")
print("per-class F1: " + ", ".join(f"{c} {ev['per_class'][c]['f1']:.3f}" for c in classes))
