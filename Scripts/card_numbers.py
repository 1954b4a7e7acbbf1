#!/usr/bin/env python3
"""Development helper for models/README.md: accuracy, macro-F1, per-class F1 and ECE (10 equal-width
confidence bins, Guo et al. 2017 — the same bins as `adnn report`) of a run's predictions.json.

    python3 Scripts/card_numbers.py RUNDIR
"""
import json
import sys

from ensemble_table import expected_calibration_error

run = sys.argv[1]
pred = json.load(open(f"{run}/predictions.json"))
ev = json.load(open(f"{run}/eval.json"))
labels, probs = pred["labels"], pred["probabilities"]
classes = ev["classes"]
ece = expected_calibration_error(labels, probs)
print(f"images {len(labels)}  accuracy {ev['accuracy']*100:.2f} %  macro-F1 {ev['macro_f1']*100:.2f} %  "
      f"balanced {ev['balanced_accuracy']*100:.2f} %  AUC {ev['auc_macro_ovr']:.4f}  ECE {ece*100:.2f} %  tta {ev.get('tta', '?')}")
print("per-class F1: " + ", ".join(f"{c} {ev['per_class'][c]['f1']:.3f}" for c in classes))
