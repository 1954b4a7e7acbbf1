#!/usr/bin/env python3
"""Old vs new ablation table (markdown) from two `adnn ablate` JSON reports.

Usage: Scripts/ablation_compare.py OLD.json NEW.json
Prints one row per variant: accuracy and macro-F1 (mean ± sample std over seeds) of both reports,
the change, the new per-seed accuracies and the new macro AUC.
"""
import json, statistics, sys


def variants(path):
    doc = json.load(open(path))
    out = {}
    for v in doc["variants"]:
        runs = v["runs"]
        out[v["variant"]] = {
            "acc": [100 * r["accuracy"] for r in runs],
            "f1": [100 * r["macro_f1"] for r in runs],
            "auc": [r["auc_macro_ovr"] for r in runs],
            "seeds": [r["seed"] for r in runs],
        }
    return out


def ms(xs):
    return f"{statistics.mean(xs):.2f} ± {statistics.stdev(xs):.2f}" if len(xs) > 1 else f"{xs[0]:.2f}"


def main():
    old, new = variants(sys.argv[1]), variants(sys.argv[2])
    print("| variant | old accuracy (%) | new accuracy (%) | Δ new − old | old macro-F1 (%) | new macro-F1 (%) "
          "| new per seed | new macro AUC |")
    print("|---|---:|---:|---:|---:|---:|---|---:|")
    for name, n in new.items():
        o = old[name]
        d = statistics.mean(n["acc"]) - statistics.mean(o["acc"])
        seeds = ", ".join(f"{a:.2f}" for a in n["acc"])
        print(f"| {name} | {ms(o['acc'])} | {ms(n['acc'])} | {d:+.2f} | {ms(o['f1'])} | {ms(n['f1'])} | {seeds} "
              f"| {statistics.mean(n['auc']):.3f} |")


if __name__ == "__main__":
    main()
