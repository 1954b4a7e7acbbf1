"""Shared helpers of the fixture scripts (development only: needs torch and safetensors)."""

import json

from safetensors.torch import save_file


def save_sorted(tensors, path, meta):
    """save_file, then rewrite the header with the `__metadata__` keys sorted: the library serialises
    its metadata map in random order, and committed fixtures should be byte-for-byte reproducible."""
    save_file(tensors, path, metadata=meta)
    with open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    if "__metadata__" in header:
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text + raw[8 + n:])
