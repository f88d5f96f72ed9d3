"""lowbit_ref: the reference library behind the lowbit course.

Every lesson's algorithm, correct and device-agnostic. One concept per module, and imports go
one way (each module imports only modules above it in this list):

- ``errors``: ``LowbitError``, the one error class;
- ``checks``: the argument checks every packer shares (one message per mistake);
- ``packed``: ``PackedTensor``, the bytes plus the layout that made them, and ``unpack``, which
  sends each scheme to the unpacker its module registered;
- ``bitstream``: the bit stream one bit at a time, the oracle of the tests and the benchmark;
- ``loop``: plain Python-loop packing, slow on purpose (lesson 01);
- ``uintx``: pack/unpack for every width 1..8, any dim, both bit orders, by slices (lesson 02);
  ``_uintx_fast`` does the same faster when the packed dim is innermost;
- ``ternary``: absmean ternary quantization and 2-bit ternary packing (lesson 03);
- ``base3``: five trits per byte, with a fast unpack (lesson 04);
- ``quantize``, ``checkpoint`` (a package), ``nn``, ``resnet``: quantized tensors, mixed-bitwidth
  checkpoints in one safetensors file, packed layers, BitPack's table (lesson 05);
- ``kernels`` (a package): Triton kernels, on a GPU or in Triton's interpreter (lesson 06);
- ``formats`` (a package): the layouts deployed systems use (llama.cpp's TQ1_0/TQ2_0 and GGUF,
  Hugging Face BitNet, AWQ, GPTQ, NF4, torchao, HQQ), to and from this course's (lesson 07);
- ``bench`` (+ ``bench_common``, ``bench_gpu``, ``bench_formats``): ``python -m lowbit_ref.bench``,
  throughput against a plain copy;
  ``gpucheck``: ``python -m lowbit_ref.gpucheck``, every CUDA test and figure in one run;
- ``widgets``: ipywidgets and plots for the notebooks (imported on demand, never here).

>>> import torch, lowbit_ref
>>> p = lowbit_ref.pack(torch.tensor([1, 0, 3, 2], dtype=torch.uint8), 2)
>>> p.data
tensor([177], dtype=torch.uint8)
>>> lowbit_ref.unpack(p)
tensor([1, 0, 3, 2], dtype=torch.uint8)
"""

# The scheme modules register their unpackers with lowbit_ref.packed as they are imported:
# importing all three here makes `unpack` complete whatever a caller imports.
from . import _uintx_fast  # noqa: F401  (registers the fast path of uintx)
from .base3 import pack_base3, unpack_base3
from .errors import LowbitError
from .packed import PackedTensor, unpack
from .ternary import dequantize_ternary, pack_ternary, quantize_ternary
from .uintx import pack

from .checkpoint import (  # a package whose CLI is its __main__: `python -m` finds no module imported twice
    MODEL_WIDTHS, QuantizedTensor, bits_for_range, dequantize, load, load_model, quantize_trits, quantize_uint, save,
    save_model, size_report,
)

_CHECKPOINT = (
    "QuantizedTensor", "quantize_uint", "quantize_trits", "dequantize", "bits_for_range", "save", "load", "size_report",
    "save_model", "load_model", "MODEL_WIDTHS",
)

__all__ = [
    "LowbitError", "PackedTensor", "pack", "unpack", "quantize_ternary", "dequantize_ternary",
    "pack_ternary", "pack_base3", "unpack_base3", *_CHECKPOINT,
]
__version__ = "0.1.0"
