"""Formats in the wild (lesson 07): the layouts deployed systems store low-bit weights in.

Each is a permutation, an offset and a block scale away from the course's one layout
(neighbouring values share a byte, the first in the low bits):

- ``ggml``: llama.cpp's ternary blocks TQ2_0 and TQ1_0, and a GGUF writer (``save_gguf``);
- ``bitnet``: Hugging Face transformers' BitNet packing (four planes of rows per byte);
- ``intn``: AWQ and GPTQ int32 words, bitsandbytes NF4, torchao uintx shards, HQQ planes.

Each module draws its layouts in its docstring; tests/test_formats.py checks them against the
projects' own packages (gguf, transformers, torchao, bitsandbytes) or their published loops.
"""

from .bitnet import from_hf_bitnet, to_hf_bitnet
from .ggml import GGML_TYPES, from_tq1_0, from_tq2_0, save_gguf, to_tq1_0, to_tq2_0, tq1_0_digits
from .intn import (
    AWQ_ORDER, NF4_CODE, dequantize_nf4, from_awq, from_gptq, from_gptq_zeros, from_hqq, from_nf4,
    from_torchao_uintx, quantize_nf4, to_awq, to_gptq, to_gptq_zeros, to_hqq, to_nf4, to_torchao_uintx,
)

__all__ = [
    "to_tq2_0", "from_tq2_0", "to_tq1_0", "from_tq1_0", "tq1_0_digits", "save_gguf", "GGML_TYPES",
    "to_hf_bitnet", "from_hf_bitnet",
    "AWQ_ORDER", "to_awq", "from_awq", "to_gptq", "from_gptq", "to_gptq_zeros", "from_gptq_zeros",
    "NF4_CODE", "to_nf4", "from_nf4", "quantize_nf4", "dequantize_nf4",
    "to_torchao_uintx", "from_torchao_uintx", "to_hqq", "from_hqq",
]
