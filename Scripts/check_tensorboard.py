#!/usr/bin/env python3
"""Development only (never CI): reads a run folder's TensorBoard event file(s) with TensorBoard's
own reader (PyPI `tensorboard`: EventAccumulator) and compares every scalar with metrics.jsonl.

    pip install tensorboard
    python3 Scripts/check_tensorboard.py RUNDIR

Tags follow adnn's TensorBoardWriter.tag(forKey:): loss -> loss/total, val_loss -> loss/val,
loss_X -> loss/X, train_X -> train/X, val_X -> val/X, images_per_second and seconds -> speed/...,
others unchanged; the step is the record's epoch. Prints "N scalars match"; exits 1 on any mismatch.
"""
import json
import os
import struct
import sys

from tensorboard.backend.event_processing import event_accumulator


def tag_for(key):
    if key == "loss":
        return "loss/total"
    if key == "val_loss":
        return "loss/val"
    if key in ("images_per_second", "seconds"):
        return "speed/" + key
    for prefix in ("loss_", "train_", "val_"):
        if key.startswith(prefix) and len(key) > len(prefix):
            return prefix[:-1] + "/" + key[len(prefix):]
    return key


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def main():
    if len(sys.argv) != 2:
        print("usage: check_tensorboard.py RUNDIR", file=sys.stderr)
        return 2
    run = sys.argv[1]
    files = sorted(f for f in os.listdir(run) if f.startswith("events.out.tfevents."))
    if not files:
        print(f"{run}: no events.out.tfevents.* file", file=sys.stderr)
        return 1
    expected = {}
    with open(os.path.join(run, "metrics.jsonl")) as fh:
        for i, line in enumerate(l for l in fh if l.strip()):
            rec = json.loads(line)
            step = int(rec.get("epoch", i + 1))
            for k, v in rec.items():
                if k == "epoch" or isinstance(v, bool) or not isinstance(v, (int, float)):
                    continue
                expected[(tag_for(k), step)] = f32(float(v))
    acc = event_accumulator.EventAccumulator(run, size_guidance={event_accumulator.SCALARS: 0})
    acc.Reload()
    got = {}
    for tag in acc.Tags()["scalars"]:
        for ev in acc.Scalars(tag):
            got[(tag, ev.step)] = ev.value
    bad = []
    for key, want in sorted(expected.items()):
        have = got.get(key)
        if have is None:
            bad.append(f"{key[0]} step {key[1]}: missing (metrics.jsonl {want})")
        elif have != want:
            bad.append(f"{key[0]} step {key[1]}: event {have} vs metrics.jsonl {want}")
    for key in sorted(set(got) - set(expected)):
        bad.append(f"{key[0]} step {key[1]}: in the event file only")
    if bad:
        print("\n".join(bad[:20]), file=sys.stderr)
        print(f"{len(bad)} of {len(expected)} scalars differ", file=sys.stderr)
        return 1
    print(f"{len(expected)} scalars match ({len(acc.Tags()['scalars'])} tags, {len(files)} event file(s), read by TensorBoard "
          f"{__import__('tensorboard').__version__} EventAccumulator)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
