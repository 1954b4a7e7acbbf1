#!/usr/bin/env python3
"""Development helper: the accuracy-vs-minutes curve of run folders as Markdown tables, and optionally
as one SVG line chart (val accuracy against wall-clock minutes, one line per run).

    python3 Scripts/accuracy_curve.py RUNDIR [RUNDIR…] [--svg OUT.svg] [--title TEXT] [--points LABEL=M:A,M:A…]
    RUNDIR may be given as LABEL=RUNDIR to name its line in the chart; --points adds a line from recorded
    (minutes, val accuracy %) pairs of a run whose folder is gone.

Reads RUNDIR/metrics.jsonl (one line per epoch); minutes are `elapsed_seconds` (time-budgeted runs:
the whole command's wall clock, validation included) or the running sum of `seconds`.
"""
import argparse
import json
import os


def rows(run):
    total = 0.0
    with open(os.path.join(run, "metrics.jsonl")) as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            total += r.get("seconds", 0.0)
            minutes = r.get("elapsed_seconds", total) / 60
            yield (r["epoch"], minutes, r["lr"], r["train_accuracy"], r["val_accuracy"], r["val_macro_f1"],
                   r.get("steps"), r.get("planned_steps"))


def markdown(label, run, data):
    print(f"\n{label} (`{run}`)\n")
    print("| epoch | minutes | lr | train acc | val acc | val macro-F1 | steps / planned |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for e, m, lr, ta, va, f1, s, p in data:
        plan = f"{s} / {p}" if s is not None else ""
        print(f"| {e} | {m:.1f} | {lr:.2e} | {ta*100:.2f} | {va*100:.2f} | {f1*100:.2f} | {plan} |")


def svg(series, path, title):
    """One line per run: x = minutes, y = val accuracy (%); axes from the data, 5-point grid."""
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    W, H, L, R, T, B = 720, 420, 60, 30, 40, 50
    xs = [m for _, d in series for (_, m, *_rest) in d]
    ys = [r[4] * 100 for _, d in series for r in d]
    x1 = max(60.0, max(xs)) if xs else 60.0
    y0 = 5 * int(min(ys) // 5) if ys else 0
    y1 = 5 * int(max(ys) // 5 + 1) if ys else 100
    px = lambda m: L + (W - L - R) * m / x1
    py = lambda a: T + (H - T - B) * (1 - (a - y0) / (y1 - y0))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{L}" y="22" font-size="14" font-weight="bold">{title}</text>']
    for a in range(y0, y1 + 1, 5):
        out.append(f'<line x1="{L}" x2="{W - R}" y1="{py(a):.1f}" y2="{py(a):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{L - 8}" y="{py(a) + 4:.1f}" text-anchor="end">{a}</text>')
    for m in range(0, int(x1) + 1, 10):
        out.append(f'<line x1="{px(m):.1f}" x2="{px(m):.1f}" y1="{T}" y2="{H - B}" stroke="#eee"/>')
        out.append(f'<text x="{px(m):.1f}" y="{H - B + 16}" text-anchor="middle">{m}</text>')
    out.append(f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">minutes (wall clock, validation included)</text>')
    out.append(f'<text x="16" y="{(T + H - B) / 2}" transform="rotate(-90 16 {(T + H - B) / 2})" '
               f'text-anchor="middle">val accuracy (%)</text>')
    for i, (label, d) in enumerate(series):
        c = colors[i % len(colors)]
        pts = " ".join(f"{px(r[1]):.1f},{py(r[4] * 100):.1f}" for r in d)
        out.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="{pts}"/>')
        for r in d:
            out.append(f'<circle cx="{px(r[1]):.1f}" cy="{py(r[4] * 100):.1f}" r="2.5" fill="{c}"/>')
        best = max(r[4] for r in d) * 100 if d else 0
        # Legend in the plot's lower right (curves rise from the lower left and stay high).
        ly = H - B - 20 * (len(series) - i) - 6
        out.append(f'<rect x="{W - R - 300}" y="{ly}" width="12" height="3" fill="{c}"/>')
        out.append(f'<text x="{W - R - 282}" y="{ly + 5}">{label} (best {best:.2f})</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="RUNDIR or LABEL=RUNDIR")
    ap.add_argument("--svg", help="write a line chart of val accuracy vs minutes here")
    ap.add_argument("--title", default="Val accuracy vs minutes")
    ap.add_argument("--points", action="append", default=[], help="LABEL=M:A,M:A,… (minutes:accuracy %%)")
    args = ap.parse_args()
    series = []
    for spec in args.points:
        label, _, pairs = spec.partition("=")
        data = [(None, float(m), None, None, float(a) / 100, None, None, None)
                for m, a in (pair.split(":") for pair in pairs.split(","))]
        series.append((label, data))
    for spec in args.runs:
        label, _, run = spec.rpartition("=")
        label = label or os.path.basename(os.path.normpath(run))
        data = list(rows(run))
        markdown(label, run, data)
        series.append((label, data))
    if args.svg:
        svg(series, args.svg, args.title)


if __name__ == "__main__":
    main()
