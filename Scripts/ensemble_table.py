#!/usr/bin/env python3
"""Development helper for choosing a shipped ensemble: reads several predictions.json files written by
`adnn eval --predictions` on the same split (same images in the same order) and prints accuracy,
macro-F1 and ECE (10 equal-width bins, as `adnn report`) of every member and of every subset of two or
more, with the members' probabilities averaged — what `adnn eval --checkpoint A --checkpoint B` does.

    python3 Scripts/ensemble_table.py NAME=PRED.json NAME=PRED.json ...
"""
import itertools
import json
import sys


def metrics(labels, probs):
    n, k = len(labels), len(probs[0])
    preds = [max(range(k), key=lambda j: p[j]) for p in probs]
    acc = sum(p == y for p, y in zip(preds, labels)) / n
    f1s = []
    for c in range(k):
        tp = sum(1 for p, y in zip(preds, labels) if p == c and y == c)
        fp = sum(1 for p, y in zip(preds, labels) if p == c and y != c)
        fn = sum(1 for p, y in zip(preds, labels) if p != c and y == c)
        if tp + fp + fn:
            f1s.append(2 * tp / (2 * tp + fp + fn))
    return acc, sum(f1s) / len(f1s), expected_calibration_error(labels, probs)


def expected_calibration_error(labels, probs):
    """ECE over 10 equal-width bins of the top-class probability (Guo et al. 2017; `adnn report`'s bins)."""
    n = len(labels)
    bins = [[0, 0, 0.0] for _ in range(10)]
    for y, p in zip(labels, probs):
        best = max(range(len(p)), key=lambda j: p[j])
        conf = min(max(p[best], 0.0), 1.0)
        b = min(int(conf * 10), 9)
        bins[b][0] += 1
        bins[b][1] += best == y
        bins[b][2] += conf
    return sum(cnt / n * abs(ok / cnt - conf / cnt) for cnt, ok, conf in bins if cnt)


def main():
    members = []
    for arg in sys.argv[1:]:
        name, _, path = arg.partition("=")
        d = json.load(open(path))
        members.append((name, d["labels"], d["probabilities"]))
    if not members:
        sys.exit(__doc__)
    labels = members[0][1]
    for name, lab, _ in members:
        if lab != labels:
            sys.exit(f"{name}: labels differ from {members[0][0]}'s (not the same split or order)")
    print("| members | accuracy (%) | macro-F1 (%) | ECE (%) |")
    print("|---|---:|---:|---:|")
    for size in range(1, len(members) + 1):
        for subset in itertools.combinations(members, size):
            probs = [[sum(m[2][i][j] for m in subset) / size for j in range(len(subset[0][2][i]))]
                     for i in range(len(labels))]
            acc, f1, ece = metrics(labels, probs)
            print(f"| {' + '.join(m[0] for m in subset)} | {acc * 100:.2f} | {f1 * 100:.2f} | {ece * 100:.2f} |")


if __name__ == "__main__":
    main()
