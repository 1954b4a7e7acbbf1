"""Writes Tests/ADNNTests/Fixtures/evil_global.pth: a PyTorch zip-format state dict with two real
float32 tensors and, among them, an entry whose pickle calls GLOBAL posix.system + REDUCE. The adnn
reader must refuse the whole file (as torch.load(weights_only=True) does) without running anything.
Development only; needs no PyTorch (fake `torch` modules give pickle the right GLOBAL names)."""
import io, pickle, struct, sys, types, zipfile, collections, os

torch = types.ModuleType("torch"); utils = types.ModuleType("torch._utils")
class FloatStorage: pass
FloatStorage.__module__ = "torch"; torch.FloatStorage = FloatStorage
def _rebuild_tensor_v2(*a): pass
_rebuild_tensor_v2.__module__ = "torch._utils"; utils._rebuild_tensor_v2 = _rebuild_tensor_v2
sys.modules["torch"] = torch; sys.modules["torch._utils"] = utils

class Storage:
    def __init__(self, key, values): self.key, self.values = key, values
class Tensor:
    def __init__(self, storage, shape): self.storage, self.shape = storage, shape
    def __reduce__(self):
        stride = tuple(int(__import__("math").prod(self.shape[i + 1:])) for i in range(len(self.shape)))
        return (_rebuild_tensor_v2, (self.storage, 0, tuple(self.shape), stride, False, collections.OrderedDict()))
class Evil:
    def __reduce__(self):
        import posix
        return (posix.system, ("touch /tmp/adnn-evil-ran",))

class P(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage): return ("storage", FloatStorage, obj.key, "cpu", len(obj.values))
        return None

a = Storage("0", [1.0, 2.0, 3.0, 4.0]); b = Storage("1", [0.5, -0.5])
state = collections.OrderedDict([("fc.weight", Tensor(a, (2, 2))), ("evil", Evil()), ("fc.bias", Tensor(b, (2,)))])
buf = io.BytesIO(); P(buf, protocol=2).dump(state)
out = os.path.join(os.path.dirname(__file__), "..", "Tests", "ADNNTests", "Fixtures", "evil_global.pth")
with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
    z.writestr("archive/data.pkl", buf.getvalue())
    z.writestr("archive/version", "3\n")
    for s in (a, b): z.writestr(f"archive/data/{s.key}", struct.pack(f"<{len(s.values)}f", *s.values))
print("wrote", out)
