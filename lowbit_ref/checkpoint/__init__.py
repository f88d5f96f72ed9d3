"""Mixed-bitwidth quantized state dicts, saved to and loaded from one safetensors file.

A state dict maps names to ``QuantizedTensor`` records (packed codes plus their scale and
zero point) or to plain tensors (biases, batchnorm), each at its own width. ``save`` writes
them into ONE safetensors file and puts the layout in its header, so ``load`` returns exactly
what was saved and refuses, naming the tensor and the file, anything it cannot trust. It fixes
what BitPack (seed 003) got wrong: no pickle (safetensors holds bytes, never code), widths are
stated rather than guessed from the data (``bits_for_range`` is the correct guess, for
choosing a width), a value too large for its width is an error rather than a wrap, and the
scales travel with the codes. ``save_model`` and ``load_model`` do the same for a whole
``torch.nn.Module``, given a width per weight.

The package has four parts, imported one way (``quantize`` <- ``format`` <- ``model``, ``report``):

- ``lowbit_ref.quantize``: ``QuantizedTensor``, ``quantize_uint``, ``quantize_trits``, ``dequantize``,
  ``bits_for_range`` (re-exported here);
- ``format``: ``save`` and ``load``, the file layout below; version 2 (2-bit ternary padding is
  trit 0) is written, versions 1 and 2 are read;
- ``model``: ``save_model``/``load_model``, a whole ``torch.nn.Module`` with a width per weight;
- ``report``: ``size_report`` and ``python -m lowbit_ref.checkpoint inspect FILE``.

File layout (safetensors, with our layout as one JSON string in its header metadata)::

    bytes 0..7    N, little-endian u64: the header length
    bytes 8..8+N  JSON header:
                    "__metadata__": {"lowbit_ref.checkpoint": "<JSON, below>"}
                    "conv1.weight::packed":     {"dtype": "U8",  "shape": [...], "data_offsets": [a, b]}
                    "conv1.weight::scale":      {"dtype": "F16", ...}
                    "conv1.weight::zero_point": {"dtype": "U8",  ...}
                    "fc.bias":                  {"dtype": "F32", ...}      (a plain tensor, own name)
    the rest      the tensors' bytes, at those offsets

    <JSON> = {"format": "lowbit_ref.checkpoint", "version": 2, "tensors": {
                "conv1.weight": {"kind": "quantized", "scheme": "uint", "bits": 4, "order": "lsb",
                                 "dim": 3, "shape": [64, 3, 7, 7], "dtype": "uint8", "group_size": 147,
                                 "stored": {"packed": "conv1.weight::packed", "scale": ..., "zero_point": ...},
                                 "sha256": "<hex>"},
                "fc.bias":      {"kind": "plain", "shape": [1000], "dtype": "float32",
                                 "stored": {"data": "fc.bias"}, "sha256": "<hex>"}}}

The sha256 of an entry covers its JSON (sha256 left out) and then the dtype, shape and raw
bytes of each stored tensor in the order listed, so a flipped bit in the data or in the
entry is caught.

>>> import tempfile, os, torch
>>> w = torch.tensor([[-1.5, 0.0, 1.5, 3.0]])
>>> q = quantize_uint(w, 4)               # scale 0.3 (float16: 0.30005), zero point 5: codes 0, 5, 10, 15
>>> q.packed.data                         # LSB first: 5 << 4 | 0 = 80, 15 << 4 | 10 = 250
tensor([[ 80, 250]], dtype=torch.uint8)
>>> folder = tempfile.TemporaryDirectory()
>>> path = os.path.join(folder.name, "model.safetensors")
>>> save(path, {"w": q, "b": torch.zeros(1)})
>>> loaded = load(path)
>>> torch.equal(loaded["w"].packed.data, q.packed.data), dequantize(loaded["w"])
(True, tensor([[-1.5002,  0.0000,  1.5002,  3.0005]]))
>>> folder.cleanup()
"""

from ..quantize import QuantizedTensor, bits_for_range, dequantize, quantize_trits, quantize_uint
from .format import DTYPES, FORMAT, METADATA_KEY, READABLE_VERSIONS, VERSION, load, save
from .model import MODEL_WIDTHS, load_model, save_model
from .report import SizeReport, TensorSize, main, size_report

__all__ = [
    "QuantizedTensor", "bits_for_range", "quantize_uint", "quantize_trits", "dequantize",
    "FORMAT", "VERSION", "READABLE_VERSIONS", "METADATA_KEY", "DTYPES", "save", "load",
    "MODEL_WIDTHS", "save_model", "load_model", "SizeReport", "TensorSize", "size_report", "main",
]
