#!/usr/bin/env python3
"""Builds the reference fixtures of the ADNNData tests (developer tool, not needed at run time).

Writes Tests/ADNNDataTests/Fixtures/:
  fer_inputs.png          64 FER2013 training images (48x48 gray) as an 8x8 mosaic, decoded by PIL
  fer_files.txt           their paths relative to ../shared/data/fer2013 (mosaic order)
  fer_clahe.png           OpenCV createCLAHE(2.0, (8, 8)).apply on each image, same mosaic
  odd_gray.png            a 61x45 gray crop (not a multiple of the tile grid: padding path)
  odd_gray_clahe.png      its OpenCV CLAHE
  photo.png               ../shared/data/faces/group.jpg reduced to 224x126 RGB (PIL, LANCZOS)
  photo_lab.png           OpenCV RGB2Lab (8-bit) of photo.png
  photo_lab_rgb.png       OpenCV Lab2RGB of photo_lab.png
  photo_clahe.png         RGB -> Lab, CLAHE on L, Lab -> RGB, all OpenCV 8-bit
  resize_fer_bicubic112.png   torch F.interpolate bicubic (align_corners=False) 48->112 of fer image 0
  resize_fer_bilinear112.png  same, bilinear
  resize_photo_bicubic_aa.png torch bicubic antialias=True 224x126 -> 100x56
  resize_photo_bilinear_aa.png torch bilinear antialias=True 224x126 -> 100x56
  resize_photo_pil_bicubic.png PIL BICUBIC 224x126 -> 100x56 (for the PIL comparison)
  png16_gray.png / png16_expected.png   16-bit gray PNG and its 8-bit value round(v*255/65535)
  rgba.png / rgba_expected.png          RGBA PNG and the RGB it should decode to
  palette.png / palette_expected.png    palette PNG and its RGB
  exif6.jpg / exif6_expected.png        JPEG with EXIF orientation 6 and PIL's exif_transpose of it
  cmyk.jpg / cmyk_expected.png          CMYK JPEG and PIL's convert("RGB")

Run from the package root:  python3 Scripts/make_data_fixtures.py
"""
import os
import sys

import cv2
import numpy as np
from PIL import Image, ImageOps

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared", "data"))
OUT = os.path.join(ROOT, "Tests", "ADNNDataTests", "Fixtures")


def save(name, array, mode=None):
    Image.fromarray(np.ascontiguousarray(array), mode).save(os.path.join(OUT, name), optimize=True)


def to_u8(x):
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def torch_resize(img, h, w, mode, antialias):
    import torch
    import torch.nn.functional as F
    x = torch.from_numpy(img.astype(np.float32))
    if x.ndim == 2:
        x = x[None, None]
    else:
        x = x.permute(2, 0, 1)[None]
    y = F.interpolate(x, size=(h, w), mode=mode, align_corners=False, antialias=antialias)
    y = y[0].permute(1, 2, 0).numpy()
    if img.ndim == 2:
        y = y[..., 0]
    return to_u8(y)


def main():
    os.makedirs(OUT, exist_ok=True)
    fer = os.path.join(SHARED, "fer2013")
    if not os.path.isdir(fer):
        sys.exit(f"{fer}: missing (needed to build the fixtures)")
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))

    # FER2013 images: every 450th training file in sorted order.
    files = []
    for cls in sorted(os.listdir(os.path.join(fer, "train"))):
        for f in sorted(os.listdir(os.path.join(fer, "train", cls))):
            files.append(f"train/{cls}/{f}")
    pick = files[::450][:64]
    mosaic = np.zeros((384, 384), np.uint8)
    expect = np.zeros((384, 384), np.uint8)
    for k, rel in enumerate(pick):
        img = np.array(Image.open(os.path.join(fer, rel)).convert("L"))
        r, c = divmod(k, 8)
        mosaic[r * 48:(r + 1) * 48, c * 48:(c + 1) * 48] = img
        expect[r * 48:(r + 1) * 48, c * 48:(c + 1) * 48] = clahe.apply(img)
    save("fer_inputs.png", mosaic)
    save("fer_clahe.png", expect)
    with open(os.path.join(OUT, "fer_files.txt"), "w") as fh:
        fh.write("\n".join(pick) + "\n")

    # Odd-sized gray image (padding path of CLAHE).
    photo_full = Image.open(os.path.join(SHARED, "faces", "group.jpg")).convert("RGB")
    gray = np.array(photo_full.convert("L").resize((122, 90), Image.LANCZOS))[10:55, 20:81]
    save("odd_gray.png", gray)
    save("odd_gray_clahe.png", clahe.apply(gray))

    # Colour photo: Lab round trip and CLAHE on L.
    photo = np.array(photo_full.resize((224, 126), Image.LANCZOS))
    save("photo.png", photo)
    lab = cv2.cvtColor(photo, cv2.COLOR_RGB2LAB)
    save("photo_lab.png", lab)
    save("photo_lab_rgb.png", cv2.cvtColor(lab, cv2.COLOR_LAB2RGB))
    lab2 = lab.copy()
    lab2[..., 0] = clahe.apply(lab2[..., 0])
    save("photo_clahe.png", cv2.cvtColor(lab2, cv2.COLOR_LAB2RGB))

    # Resize references.
    fer0 = mosaic[0:48, 0:48]
    save("resize_fer_bicubic112.png", torch_resize(fer0, 112, 112, "bicubic", False))
    save("resize_fer_bilinear112.png", torch_resize(fer0, 112, 112, "bilinear", False))
    save("resize_photo_bicubic_aa.png", torch_resize(photo, 56, 100, "bicubic", True))
    save("resize_photo_bilinear_aa.png", torch_resize(photo, 56, 100, "bilinear", True))
    save("resize_photo_pil_bicubic.png", np.array(Image.fromarray(photo).resize((100, 56), Image.BICUBIC)))

    # Decoder edge cases.
    rng = np.random.default_rng(7)
    g16 = rng.integers(0, 65536, size=(9, 13), dtype=np.uint16)
    g16[0, :4] = [0, 65535, 128, 32768]
    Image.fromarray(g16).save(os.path.join(OUT, "png16_gray.png"))
    save("png16_expected.png", ((g16.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8))
    small = np.array(photo_full.resize((24, 16), Image.BILINEAR))
    alpha = rng.integers(0, 256, size=(16, 24, 1), dtype=np.uint8)
    Image.fromarray(np.concatenate([small, alpha], axis=2), "RGBA").save(os.path.join(OUT, "rgba.png"))
    save("rgba_expected.png", small)
    pal = Image.fromarray(small).quantize(16)
    pal.save(os.path.join(OUT, "palette.png"))
    save("palette_expected.png", np.array(pal.convert("RGB")))
    ex = Image.fromarray(np.array(photo_full.resize((40, 24), Image.BILINEAR)))
    exif = Image.Exif()
    exif[0x0112] = 6
    ex.save(os.path.join(OUT, "exif6.jpg"), quality=95, exif=exif)
    save("exif6_expected.png", np.array(ImageOps.exif_transpose(Image.open(os.path.join(OUT, "exif6.jpg"))).convert("RGB")))
    Image.fromarray(small).convert("CMYK").save(os.path.join(OUT, "cmyk.jpg"), quality=95)
    save("cmyk_expected.png", np.array(Image.open(os.path.join(OUT, "cmyk.jpg")).convert("RGB")))

    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total / 1024:.0f} KiB, to {OUT}")


if __name__ == "__main__":
    main()
