#!/usr/bin/env python3
"""Runs the release `adnn` binary on bad inputs across every command and prints a Markdown table:
case, command, exit status, and the first line of stderr. A case fails the probe when the binary traps
or is killed by a signal (exit ≥ 128), hangs (timeout), exits 0, or prints more than one error line.
Development tool (the unit tests cover the same behaviour in process):
    python3 Scripts/probe_bad_inputs.py [--binary .build/release/adnn] [--markdown docs/reliability.md]
"""
import argparse, json, os, shutil, struct, subprocess, sys, tempfile, zipfile

ap = argparse.ArgumentParser()
ap.add_argument("--binary", default=".build/release/adnn")
ap.add_argument("--markdown")
args = ap.parse_args()
ADNN = os.path.abspath(args.binary)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
T = tempfile.mkdtemp(prefix="adnn-probe-")

def w(name, data, mode="w"):
    p = os.path.join(T, name)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, mode) as f: f.write(data)
    return p

def run(argv, timeout=120, env=None):
    e = dict(os.environ, ADNN_NUM_THREADS="2"); e.update(env or {})
    try:
        p = subprocess.run([ADNN] + argv, capture_output=True, text=True, timeout=timeout, cwd=T, env=e,
                           preexec_fn=lambda: __import__("resource").setrlimit(__import__("resource").RLIMIT_AS, (8 << 30, 8 << 30)))
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        return 124, "", "timeout"

TINY = """model: {backbone: efficientnet_b0, in_chans: 1, input_size: 24, num_classes: 7, cbam: null, transformer: null}
schedule: {epochs: 1, warmup_epochs: 0, patience: 0}
data: {format: synthetic, batch_size: 32, clahe: false, mean: [0.5], std: [0.25], workers: 1, synthetic_count: 64}
augment: {hflip: 0, crop: 0, color_jitter: 0, rotate: 0, noise: 0, cutout: 0, mixup: 0}
"""
tiny = w("tiny.yaml", TINY)
rc, out, err = run(["train", "--config", tiny, "--data", "synthetic:train=64,val=32,test=0,size=24", "--out", os.path.join(T, "run")])
assert rc == 0, err
ck = os.path.join(T, "run", "best.safetensors")

def patched_config(extra):
    return w(f"cfg{abs(hash(extra))}.yaml", TINY + extra)
def override(section, body):
    # Replaces a whole top-level section of TINY.
    lines = [l for l in TINY.splitlines() if not l.startswith(section + ":")]
    return w(f"cfg-{section}-{abs(hash(body))}.yaml", "\n".join(lines) + f"\n{section}: {body}\n")

# Files for image and checkpoint cases.
png = os.path.join(ROOT, "Tests/ADNNDataTests/Fixtures")
faces = os.path.join(ROOT, "..", "shared", "data", "faces")
some_jpeg = next((os.path.join(faces, f) for f in sorted(os.listdir(faces)) if f.lower().endswith(".jpg")), None) if os.path.isdir(faces) else None
if some_jpeg:
    b = bytearray(open(some_jpeg, "rb").read())
    i = 2
    while i < len(b) - 9:                     # patch the SOF0/SOF2 frame size to 65500×65500
        if b[i] == 0xFF and b[i + 1] in (0xC0, 0xC2):
            b[i + 5:i + 9] = struct.pack(">HH", 65500, 65500); break
        i += 2 + struct.unpack(">H", b[i + 2:i + 4])[0]
    bomb = w("bomb.jpg", bytes(b[:2048]), "wb")
    truncated = w("trunc.jpg", open(some_jpeg, "rb").read()[:600], "wb")
else:
    bomb = truncated = w("none.jpg", b"\xff\xd8", "wb")
text_img = w("text.jpg", "hello\n")
empty_img = w("empty.png", b"", "wb")
trunc_ck = w("trunc.safetensors", open(ck, "rb").read()[:5000], "wb")
garbage_ck = w("garbage.safetensors", os.urandom(4096), "wb")
hdr = json.dumps({"x": {"dtype": "F32", "shape": [1 << 40], "data_offsets": [0, 4]}}).encode()
huge_ck = w("huge.safetensors", struct.pack("<Q", len(hdr)) + hdr + b"\0" * 4, "wb")
lied_ck = w("lied.safetensors", struct.pack("<Q", 1 << 60) + b"{}", "wb")
# Checkpoint edits: 2 class names for 7 classes; NaN head weights.
def edit_ck(name, fn):
    raw = open(ck, "rb").read(); n = struct.unpack("<Q", raw[:8])[0]; h = json.loads(raw[8:8 + n]); body = bytearray(raw[8 + n:])
    fn(h, body)
    hb = json.dumps(h).encode(); hb += b" " * ((8 - len(hb) % 8) % 8)
    return w(name, struct.pack("<Q", len(hb)) + hb + bytes(body), "wb")
def two_classes(h, body): h["__metadata__"]["classes"] = json.dumps(["a", "b"])
def nan_head(h, body):
    s, e = h["head.weight"]["data_offsets"]; body[s:e] = struct.pack("<f", float("nan")) * ((e - s) // 4)
two_ck = edit_ck("two.safetensors", two_classes)
nan_ck = edit_ck("nan.safetensors", nan_head)
not_adnn = edit_ck("plain.safetensors", lambda h, b: h["__metadata__"].update({"format": "pt"}))
evil = os.path.join(ROOT, "Tests/ADNNTests/Fixtures/evil_global.pth")
csv_header = w("bad_header/fer2013.csv", "a,b,c\n1,2,3\n")
csv_pixels = w("bad_pixels/fer2013.csv", "emotion,pixels,Usage\n0,1 2 3,Training\n1," + " ".join(["300"] * 2304) + ",Training\n")
corrupt = os.path.join(T, "corrupt")
for split in ("train", "val"):
    for c in ("happy", "sad"):
        for i in range(3): w(f"corrupt/{split}/{c}/{i}.png", b"not an image", "wb")
corrupt_cfg = w("corrupt.yaml", TINY.replace("num_classes: 7", "num_classes: 2").replace("format: synthetic", "format: folder"))
w("data_in/train/happy/a.png", open(os.path.join(T, "empty.png"), "rb").read() or b"x", "wb")
shutil.copy(ck, os.path.join(T, "exists.safetensors"))
bomb_yaml = w("alias.yaml", "a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
              "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n")
ro = os.path.join(T, "ro"); os.makedirs(ro, exist_ok=True)
syn = "synthetic:train=32,val=16,test=0,size=24"

cases = [
    # config files
    ("config file missing", ["summary", "--config", "nope.yaml"]),
    ("config is a folder", ["summary", "--config", T]),
    ("config is /dev/zero", ["summary", "--config", "/dev/zero"]),
    ("config is binary", ["summary", "--config", garbage_ck]),
    ("config top level is a list", ["summary", "--config", w("list.yaml", "- 1\n- 2\n")]),
    ("unknown config key", ["summary", "--config", patched_config("colour: blue\n")]),
    ("duplicate key", ["summary", "--config", patched_config("seed: 1\nseed: 2\n")]),
    ("YAML alias bomb", ["summary", "--config", bomb_yaml]),
    ("transformer.heads: 0", ["summary", "--config", w("h0.yaml", TINY.replace("transformer: null", "transformer: {heads: 0, d_model: 64}"))]),
    ("cbam.reduction: 0", ["summary", "--config", w("r0.yaml", TINY.replace("cbam: null", "cbam: {reduction: 0}"))]),
    ("cbam.kernel_size: 0", ["summary", "--config", w("k0.yaml", TINY.replace("cbam: null", "cbam: {kernel_size: 0}"))]),
    ("transformer.d_model: 0", ["summary", "--config", w("d0.yaml", TINY.replace("transformer: null", "transformer: {d_model: 0}"))]),
    ("input_size: 100000", ["summary", "--config", w("big.yaml", TINY.replace("input_size: 24", "input_size: 100000"))]),
    ("num_classes: 2^31", ["summary", "--config", w("nc.yaml", TINY.replace("num_classes: 7", "num_classes: 2147483648"))]),
    ("drop_rate: 1.5 (train)", ["train", "--config", w("dr.yaml", TINY.replace("cbam: null", "cbam: null, drop_rate: 1.5")), "--out", "r1"]),
    ("optim.lr: -1", ["train", "--config", patched_config("optim: {lr: -1}\n"), "--out", "r2"]),
    ("optim.lr: .inf", ["train", "--config", patched_config("optim: {lr: .inf}\n"), "--out", "r3"]),
    ("optim.name: adam", ["train", "--config", patched_config("optim: {name: adam}\n"), "--out", "r4"]),
    ("batch_size: 2.5", ["train", "--config", w("b25.yaml", TINY.replace("batch_size: 32", "batch_size: 2.5")), "--out", "r5"]),
    ("batch_size: many", ["train", "--config", w("bm.yaml", TINY.replace("batch_size: 32", "batch_size: many")), "--out", "r6"]),
    ("schedule.monitor: acc", ["train", "--config", w("mon.yaml", TINY.replace("patience: 0", "patience: 0, monitor: acc")), "--out", "r7"]),
    ("schedule.ema: 1", ["train", "--config", w("ema.yaml", TINY.replace("patience: 0", "patience: 0, ema: 1")), "--out", "r8"]),
    ("data.format: imagenet", ["train", "--config", w("fmt.yaml", TINY.replace("format: synthetic", "format: imagenet")), "--out", "r9"]),
    ("data.std: 0", ["train", "--config", w("std.yaml", TINY.replace("std: [0.25]", "std: [0]")), "--out", "r10"]),
    ("augment.hflip: 2", ["train", "--config", w("hf.yaml", TINY.replace("hflip: 0", "hflip: 2")), "--out", "r11"]),
    ("seed: -1", ["train", "--config", patched_config("seed: -1\n"), "--out", "r12"]),
    ("backbone: vgg16", ["summary", "--config", w("vgg.yaml", TINY.replace("efficientnet_b0", "vgg16"))]),
    ("in_chans: 2", ["summary", "--config", w("ic.yaml", TINY.replace("in_chans: 1", "in_chans: 2"))]),
    # CLI numbers
    ("bench --warmup=-3", ["bench", "--config", tiny, "--warmup=-3"]),
    ("bench --seconds inf", ["bench", "--config", tiny, "--seconds", "inf"]),
    ("bench --batch 0", ["bench", "--config", tiny, "--batch", "0"]),
    ("bench --mode fly", ["bench", "--config", tiny, "--mode", "fly"]),
    ("train --threads 0", ["train", "--config", tiny, "--threads", "0", "--out", "r13"]),
    ("train --epochs -1", ["train", "--config", tiny, "--epochs", "-1", "--out", "r14"]),
    ("eval --batch -1", ["eval", "--checkpoint", ck, "--data", syn, "--batch", "-1"]),
    ("tune --trials 0", ["tune", "--config", tiny, "--trials", "0", "--out", "t0"]),
    ("tune --metric auc", ["tune", "--config", tiny, "--trials", "1", "--metric", "auc", "--out", "t1"]),
    ("ablate --seeds a,b", ["ablate", "--config", tiny, "--seeds", "a,b", "--out", "a0"]),
    ("explain --alpha 2", ["explain", "--checkpoint", ck, "--method", "gradcam", "--alpha", "2", "--out", "ex", text_img]),
    ("explain --method lime", ["explain", "--checkpoint", ck, "--method", "lime", "--out", "ex", text_img]),
    ("explain --grid 0 (shap)", ["explain", "--checkpoint", ck, "--method", "shap", "--grid", "0", "--out", "ex", text_img]),
    ("detect --threshold 1.5", ["detect", "--weights", evil, "--threshold", "1.5", text_img]),
    ("dataset --bench --seconds -1", ["dataset", "--data", syn, "--bench", "--seconds", "-1"]),
    ("preprocess --size 0", ["preprocess", "--data", syn, "--out", "pp", "--size", "0"]),
    ("predict --top 0", ["predict", "--checkpoint", ck, "--top", "0", text_img]),
    # checkpoints and weights
    ("predict: checkpoint missing", ["predict", "--checkpoint", "no.safetensors", text_img]),
    ("predict: truncated checkpoint", ["predict", "--checkpoint", trunc_ck, text_img]),
    ("predict: random bytes as checkpoint", ["predict", "--checkpoint", garbage_ck, text_img]),
    ("predict: header claims 2^40 floats", ["predict", "--checkpoint", huge_ck, text_img]),
    ("predict: header length 2^60", ["predict", "--checkpoint", lied_ck, text_img]),
    ("predict: safetensors without adnn metadata", ["predict", "--checkpoint", not_adnn, text_img]),
    ("predict: 2 class names for 7 classes", ["predict", "--checkpoint", two_ck, text_img]),
    ("eval: NaN weights", ["eval", "--checkpoint", nan_ck, "--data", syn]),
    ("convert: .pth with posix.system GLOBAL", ["convert", "--config", tiny, "--weights", evil, "--out", "conv.safetensors"]),
    ("detect: weights are a JPEG", ["detect", "--weights", text_img, text_img]),
    ("detect: weights missing", ["detect", "--weights", "none.pth", text_img]),
    # images
    ("predict: text file as image", ["predict", "--checkpoint", ck, text_img]),
    ("predict: empty PNG", ["predict", "--checkpoint", ck, empty_img]),
    ("predict: truncated JPEG", ["predict", "--checkpoint", ck, truncated]),
    ("predict: 2 KB JPEG claiming 65500×65500", ["predict", "--checkpoint", ck, bomb]),
    ("predict: /dev/zero as image", ["predict", "--checkpoint", ck, "/dev/zero"]),
    ("predict: image missing", ["predict", "--checkpoint", ck, "missing.png"]),
    ("predict: folder as image", ["predict", "--checkpoint", ck, T]),
    # data sets
    ("eval: data folder missing", ["eval", "--checkpoint", ck, "--data", "nowhere"]),
    ("eval: split missing", ["eval", "--checkpoint", ck, "--data", syn, "--split", "holdout"]),
    ("train: FER2013 CSV with a bad header", ["train", "--config", tiny, "--data", csv_header, "--out", "r15"]),
    ("train: every image corrupt", ["train", "--config", corrupt_cfg, "--data", corrupt, "--out", "r16"]),
    ("dataset: path missing", ["dataset", "--data", "nowhere"]),
    ("dataset --format xyz", ["dataset", "--data", syn, "--format", "xyz"]),
    # lost or altered data
    ("train --out existing run (no --resume)", ["train", "--config", tiny, "--data", syn, "--out", "run"]),
    ("train --resume with nothing to resume", ["train", "--config", tiny, "--resume", "--out", "emptyrun"]),
    ("train --resume --force", ["train", "--config", tiny, "--resume", "--force", "--out", "run"]),
    ("preprocess --out inside --data", ["preprocess", "--data", os.path.join(T, "data_in"), "--out", os.path.join(T, "data_in", "copy")]),
    ("convert --out existing file", ["convert", "--config", tiny, "--weights", ck, "--out", "exists.safetensors"]),
    ("train --out under /proc", ["train", "--config", tiny, "--out", "/proc/adnn-run"]),
    ("report: folder of nothing", ["report", ro]),
    ("video: text file as video", ["video", text_img, "--out", "v1", "--checkpoint", ck]),
    ("video: truncated MP4", ["video", w("cut.mp4", b"\x00\x00\x00\x18ftypmp42" + os.urandom(200), "wb"), "--out", "v2", "--checkpoint", ck]),
    ("video: file missing", ["video", "none.mp4", "--out", "v3", "--checkpoint", ck]),
    ("video: --every 0", ["video", text_img, "--out", "v4", "--checkpoint", ck, "--every", "0"]),
    ("video: --smooth 2", ["video", text_img, "--out", "v5", "--checkpoint", ck, "--smooth", "2"]),
]

rows, bad = [], 0
for name, argv in cases:
    rc, out, err = run(argv)
    lines = [l for l in err.splitlines() if l.strip() and not l.startswith("warning:") and not l.startswith("note:")]
    first = lines[0] if lines else (out.splitlines()[-1] if out.strip() else "")
    ok = 0 < rc < 128 and len(lines) == 1
    outcome = "ok" if ok else ("TRAP/SIGNAL" if rc >= 128 else ("TIMEOUT" if rc == 124 else ("exit 0" if rc == 0 else "several lines")))
    if not ok: bad += 1
    first = first.replace(T, "$TMP").replace("|", "\\|")
    if len(first) > 170: first = first[:167] + "…"
    rows.append(f"| {len(rows) + 1} | {name} | `adnn {argv[0]}` | {rc} | {outcome} | {first} |")
table = "| # | bad input | command | exit | outcome | the one line |\n|---:|---|---|---:|---|---|\n" + "\n".join(rows)
summary = f"\n{len(cases)} bad inputs: {len(cases) - bad} one clear line and a non-zero exit, {bad} not."
print(table + summary)
if args.markdown:
    with open(args.markdown, "w") as f:
        f.write("# Bad inputs and what `adnn` answers\n\nWritten by `python3 Scripts/probe_bad_inputs.py --markdown docs/reliability.md` "
                "(release build; each case in a fresh temporary folder, 8 GiB address-space limit). `$TMP` is that folder.\n\n" + table + summary + "\n")
shutil.rmtree(T, ignore_errors=True)
sys.exit(1 if bad else 0)
