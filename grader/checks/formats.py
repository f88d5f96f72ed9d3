"""Independent checks for lesson 07 (see grader/verify.py): run outside the student's kernel.

PRELUDE is what the solution cells may assume (the lesson's setup, minus lowbit_ref and gguf's
reader, which no solution cell but the capstone's needs); BLOCKED: lowbit_ref, whose
``lowbit_ref.formats`` answers four of the five exercises outright. checks() maps each graded
test cell to calls whose outputs must match lowbit_ref's exactly.

Not repeated here: the visible "no division in decode_tq1_0_block" test reads the source and is
static (its input/output behaviour is checked, on every byte value); and the capstone
(test_export_gguf), whose answer is, by design, a call of lowbit_ref's ``save_gguf`` and
``quantize_ternary``: it is graded by its notebook test alone, which reads the file back with
llama.cpp's own reader.
"""

import numpy as np
import torch
from gguf import GGMLQuantizationType
from gguf.quants import quantize

from lowbit_ref.formats import from_tq1_0, from_tq2_0, to_awq, to_hf_bitnet, to_tq1_0, to_tq2_0
from verify import call, raises

PRELUDE = "import math\nimport time\n\nimport numpy as np\nimport torch\n"
BLOCKED = ("lowbit_ref",)


def u8(values):
    return torch.tensor(values, dtype=torch.uint8)


def first_block(pair):
    trits, scales = pair
    return trits, scales[0]


def checks():
    g = torch.Generator().manual_seed(2070)
    rng = np.random.default_rng(2070)
    example = (torch.arange(256) % 3 - 1).to(torch.int8)

    def blocks(encode, n):
        out = [encode(example, torch.tensor([0.25]))]
        for _ in range(n):
            out.append(encode(torch.randint(-1, 2, (256,), dtype=torch.int8, generator=g), torch.randn(1, generator=g)))
        return out

    real2 = torch.from_numpy(quantize(rng.normal(size=(3, 256)).astype(np.float32), GGMLQuantizationType.TQ2_0))
    real1 = torch.from_numpy(quantize(rng.normal(size=(3, 256)).astype(np.float32), GGMLQuantizationType.TQ1_0))

    tq2 = [call("decode_tq2_0_block", b, expect=first_block(from_tq2_0(b))) for b in [*blocks(to_tq2_0, 4), *real2]]
    field3 = to_tq2_0(example, torch.tensor([1.0]))
    field3[7] |= 0b11000000
    tq2 += [raises("decode_tq2_0_block", b) for b in (torch.zeros(65, dtype=torch.uint8), field3, torch.zeros(66, dtype=torch.int8))]

    every = torch.cat([torch.arange(52, dtype=torch.uint8) * 5, u8([0, 60])])
    tq1 = [call("decode_tq1_0_block", b, expect=first_block(from_tq1_0(b))) for b in [*blocks(to_tq1_0, 4), *real1, every]]
    tq1 += [raises("decode_tq1_0_block", b) for b in (torch.zeros(66, dtype=torch.uint8), torch.zeros(54, dtype=torch.int16))]

    bitnet = []
    for shape in [(4, 1), (5, 2), (1, 3), (7, 5), (13, 2), (64, 64)]:
        trits = torch.randint(-1, 2, shape, dtype=torch.int8, generator=g)
        bitnet.append(call("pack_hf_bitnet", trits, expect=to_hf_bitnet(trits)))
    bitnet += [raises("pack_hf_bitnet", torch.tensor([[0], [2]], dtype=torch.int8)),
               raises("pack_hf_bitnet", torch.tensor([[0, 1], [-3, 0]], dtype=torch.int8))]

    codes = torch.randint(0, 16, (12, 8), generator=g)
    awq = [call("awq_word_codes", 0x75316420, expect=list(range(8))), call("awq_word_codes", -1, expect=[15] * 8)]
    for row in codes:
        word = int(to_awq(row.view(1, 8))[0, 0])
        awq += [call("awq_word_codes", word, expect=row.tolist()), call("awq_word_codes", word & 0xFFFFFFFF, expect=row.tolist())]
    awq += [raises("awq_word_codes", 2**32), raises("awq_word_codes", -(2**31) - 1)]

    return {
        "test_decode_tq2_0_block": tq2,
        "test_decode_tq1_0_block": tq1,
        "test_pack_hf_bitnet": bitnet,
        "test_awq_word_codes": awq,
    }
