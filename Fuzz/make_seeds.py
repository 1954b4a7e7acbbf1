#!/usr/bin/env python3
"""Writes the synthetic seed inputs of Fuzz/corpus (development tool: needs Pillow and NumPy).

Run from the repository root: python3 Fuzz/make_seeds.py. The fixture files the tests already use
(JPEG/PNG/safetensors/.pth/configs) are copied by name; the rest are tiny files made here.
"""
import io, json, os, shutil, struct
import numpy as np
from PIL import Image

ROOT = "Fuzz/corpus"
def out(target, name, data):
    os.makedirs(f"{ROOT}/{target}", exist_ok=True)
    with open(f"{ROOT}/{target}/{name}", "wb") as f:
        f.write(data)

def copy(target, src):
    os.makedirs(f"{ROOT}/{target}", exist_ok=True)
    shutil.copy(src, f"{ROOT}/{target}/{os.path.basename(src)}")

rng = np.random.default_rng(17)
def img(mode, w, h):
    ch = {"L": 1, "RGB": 3, "RGBA": 4, "LA": 2, "CMYK": 4}[mode]
    a = rng.integers(0, 256, size=(h, w, ch), dtype=np.uint8)
    return Image.fromarray(a[:, :, 0] if ch == 1 else a, mode if mode not in ("CMYK", "LA") else None) \
        if mode not in ("CMYK", "LA") else Image.frombytes(mode, (w, h), a.tobytes())

def save(im, fmt, **kw):
    b = io.BytesIO(); im.save(b, fmt, **kw); return b.getvalue()

# JPEG: baseline gray and colour (4:2:0, 4:4:4), progressive, restart intervals, CMYK, EXIF-rotated.
fx = "Tests/ADNNDataTests/Fixtures"
copy("fuzz-jpeg", f"{fx}/cmyk.jpg"); copy("fuzz-jpeg", f"{fx}/exif6.jpg")
out("fuzz-jpeg", "gray.jpg", save(img("L", 9, 7), "JPEG", quality=80))
out("fuzz-jpeg", "rgb420.jpg", save(img("RGB", 17, 11), "JPEG", quality=75, subsampling=2))
out("fuzz-jpeg", "rgb444.jpg", save(img("RGB", 8, 8), "JPEG", quality=90, subsampling=0))
out("fuzz-jpeg", "progressive.jpg", save(img("RGB", 16, 16), "JPEG", progressive=True))
out("fuzz-jpeg", "restart.jpg", save(img("RGB", 32, 16), "JPEG", restart_marker_blocks=1))
out("fuzz-jpeg", "cmyk_small.jpg", save(img("CMYK", 8, 8), "JPEG"))

# PNG: palette (with transparency), 1/2/4-bit gray, 16-bit, gray+alpha, RGBA, interlaced.
for f in ["palette.png", "png16_gray.png", "rgba.png"]:
    copy("fuzz-png", f"{fx}/{f}")
out("fuzz-png", "gray8.png", save(img("L", 5, 3), "PNG"))
out("fuzz-png", "rgb.png", save(img("RGB", 6, 4), "PNG"))
out("fuzz-png", "interlaced.png", save(img("RGB", 9, 9), "PNG", interlace=1))
out("fuzz-png", "gray1.png", save(img("L", 11, 3).convert("1"), "PNG"))
out("fuzz-png", "gray_alpha.png", save(img("LA", 4, 4), "PNG"))
pal = img("RGB", 6, 6).convert("P", palette=Image.ADAPTIVE, colors=4)
out("fuzz-png", "palette_trns.png", save(pal, "PNG", transparency=0, bits=2))
out("fuzz-png", "gray4.png", save(img("L", 7, 2).convert("P", palette=Image.ADAPTIVE, colors=16).convert("L"), "PNG", bits=4))

# safetensors: the F32 and mixed-dtype fixtures, plus a tiny file with metadata and an empty tensor.
tx = "Tests/ADNNTests/Fixtures"
for f in ["python_f32.safetensors", "python_dtypes.safetensors", "softmax.safetensors"]:
    copy("fuzz-safetensors", f"{tx}/{f}")
def safetensors(tensors, meta=None):
    header, blobs, off = {}, b"", 0
    if meta: header["__metadata__"] = meta
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(raw)]}
        blobs += raw; off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + blobs
out("fuzz-safetensors", "small.safetensors", safetensors({
    "w": ("F16", [2, 2], np.arange(4, dtype=np.float16).tobytes()),
    "b": ("BF16", [2], b"\x80\x3f\x00\x40"),
    "e": ("F32", [0, 3], b""),
    "n": ("I64", [], struct.pack("<q", 7)),
}, {"format": "pt", "classes": "a,b"}))

# .pth: zip-format state dict and checkpoint, legacy format.
for f in ["tiny_state.pth", "tiny_state_legacy.pth", "tiny_checkpoint.pth"]:
    copy("fuzz-pth", f"{tx}/{f}")

# FER2013 CSV: header plus rows of 2×2 images (labels, usages, quoting, CRLF, BOM, a bad row).
rows = ["emotion,pixels,Usage", "0,1 2 3 4,Training", "6,255 0 255 0,PublicTest", "3,\"9 8 7 6\",PrivateTest",
        "7,1 2 3 4,Training", "2,1 2 3,Training", "1,1 2 3 999,Training"]
out("fuzz-csv", "fer_small.csv", ("\n".join(rows) + "\n").encode())
out("fuzz-csv", "fer_crlf_bom.csv", b"\xef\xbb\xbf" + "\r\n".join(["Usage,emotion,pixels", "Training,4,5 5 5 5 5 5 5 5 5",
                                                                   "\"Public\"\"Test\",1,1 1 1 1 1 1 1 1 1"]).encode())
px = " ".join(str(v) for v in rng.integers(0, 256, size=48 * 48))
out("fuzz-csv", "fer_48.csv", f"emotion,pixels,Usage\n5,{px},Training\n".encode())

# .npy label files (AffectNet): integer, float, string dtypes, versions 1 and 2, big-endian.
def npy(arr, version=(1, 0)):
    b = io.BytesIO(); np.lib.format.write_array(b, arr, version=version); return b.getvalue()
out("fuzz-npy", "int64.npy", npy(np.array(3, dtype="<i8")))
out("fuzz-npy", "uint8.npy", npy(np.array([5], dtype="|u1")))
out("fuzz-npy", "float32.npy", npy(np.array(2.0, dtype="<f4")))
out("fuzz-npy", "float16_be.npy", npy(np.array(1.0, dtype=">f2")))
out("fuzz-npy", "int32_be_v2.npy", npy(np.array(6, dtype=">i4"), version=(2, 0)))
out("fuzz-npy", "unicode.npy", npy(np.array("1", dtype="<U1")))
out("fuzz-npy", "bytes.npy", npy(np.array(b"4", dtype="|S1")))
out("fuzz-npy", "unicode_v3.npy", npy(np.array(" 7 ", dtype="<U3"), version=(3, 0)))

# YAML configs: the shipped ones plus a few overrides.
for f in sorted(os.listdir("Configs")):
    if f.endswith(".yaml"): copy("fuzz-config", f"Configs/{f}")
out("fuzz-config", "empty.yaml", b"")
out("fuzz-config", "overrides.yaml", b"model:\n  cbam: null\n  transformer:\n    heads: 4\noptim: {lr: 1.0e-3, betas: [0.9, 0.99]}\n"
    b"schedule:\n  epochs: 2\n  ema: 0.99\ndata: &d\n  batch_size: 8\n  mean: [0.5]\n  std: [0.25]\naugment: {hflip: 0}\nseed: 1\n")
