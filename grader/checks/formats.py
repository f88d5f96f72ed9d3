"""Independent checks for lesson 07 (see grader/verify.py): run outside the student's kernel.

PRELUDE is what the solution cells may assume (the lesson's setup, minus lowbit_ref and gguf's
reader, which no solution cell but the capstone's needs); BLOCKED: lowbit_ref, whose
``lowbit_ref.formats`` answers four of the five exercises outright. checks() maps each graded
test cell to calls whose outputs must match lowbit_ref's exactly. The cases are the notebook's:
its test cells' literals (``cases``, ``SHAPES``, ``REFUSED``, ``N_RANDOM``, ...), read from the
solutions notebook by ``common.cell_literals``; random blocks and words come from other seeds.

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

from common import cell_literals
from lowbit_ref.formats import from_tq1_0, from_tq2_0, to_awq, to_hf_bitnet, to_tq1_0, to_tq2_0
from verify import call, raises

LESSON = "07_formats_in_the_wild"
#: Graded by the notebook's test alone (see above): tests/test_spec.py expects no checks for them.
NOTEBOOK_ONLY = ("test_export_gguf",)
PRELUDE = "import math\nimport time\n\nimport numpy as np\nimport torch\n"
BLOCKED = ("lowbit_ref",)


def u8(values):
    return torch.tensor(values, dtype=torch.uint8)


def first_block(pair):
    trits, scales = pair
    return trits, scales[0]


def _zeros(shape, dtype) -> torch.Tensor:
    return torch.zeros(shape, dtype=getattr(torch, dtype))


def checks():
    spec = {cell: cell_literals(LESSON, cell) for cell in (
        "test_decode_tq2_0_block", "test_decode_tq1_0_block", "test_pack_hf_bitnet", "test_awq_word_codes")}
    g = torch.Generator().manual_seed(2070)
    rng = np.random.default_rng(2070)
    example = (torch.arange(256) % 3 - 1).to(torch.int8)  # the lesson's worked example, with d = 0.25

    def blocks(encode, n):
        out = [encode(example, torch.tensor([0.25]))]
        for _ in range(n):
            out.append(encode(torch.randint(-1, 2, (256,), dtype=torch.int8, generator=g), torch.randn(1, generator=g)))
        return out

    def real(kind, n):
        return torch.from_numpy(quantize(rng.normal(size=(n, 256)).astype(np.float32), kind))

    s2 = spec["test_decode_tq2_0_block"]
    tq2 = [call("decode_tq2_0_block", b, expect=first_block(from_tq2_0(b)))
           for b in [*blocks(to_tq2_0, s2["N_RANDOM"]), *real(GGMLQuantizationType.TQ2_0, s2["N_REAL"])]]
    field3 = to_tq2_0(example, torch.tensor([1.0]))
    field3[7] |= 0b11000000  # a 2-bit field of 3 (the visible test's bad block)
    tq2 += [raises("decode_tq2_0_block", field3), *(raises("decode_tq2_0_block", _zeros(*bad)) for bad in s2["REFUSED"])]

    s1 = spec["test_decode_tq1_0_block"]
    every = torch.cat([torch.arange(52, dtype=torch.uint8) * 5, u8([0, 60])])
    tq1 = [call("decode_tq1_0_block", b, expect=first_block(from_tq1_0(b)))
           for b in [*blocks(to_tq1_0, s1["N_RANDOM"]), *real(GGMLQuantizationType.TQ1_0, s1["N_REAL"]), every]]
    tq1 += [raises("decode_tq1_0_block", _zeros(*bad)) for bad in s1["REFUSED"]]

    sb = spec["test_pack_hf_bitnet"]
    bitnet = [call("pack_hf_bitnet", torch.tensor(t, dtype=torch.int8), expect=u8(want)) for t, want in sb["cases"]]
    for shape in sb["SHAPES"]:
        trits = torch.randint(-1, 2, shape, dtype=torch.int8, generator=g)
        bitnet.append(call("pack_hf_bitnet", trits, expect=to_hf_bitnet(trits)))
    bitnet += [raises("pack_hf_bitnet", torch.tensor(bad, dtype=torch.int8)) for bad in [*sb["REFUSED"], *sb["HIDDEN_REFUSED"]]]

    sa = spec["test_awq_word_codes"]
    awq = [call("awq_word_codes", word, expect=want) for word, want in [*sa["cases"], *sa["HIDDEN_CASES"]]]
    for row in torch.randint(0, 16, (sa["N_WORDS"], 8), generator=g):
        word = int(to_awq(row.view(1, 8))[0, 0])
        awq += [call("awq_word_codes", word, expect=row.tolist()), call("awq_word_codes", word & 0xFFFFFFFF, expect=row.tolist())]
    awq += [raises("awq_word_codes", bad) for bad in [*sa["REFUSED"], *sa["HIDDEN_REFUSED"]]]

    return {
        "test_decode_tq2_0_block": tq2,
        "test_decode_tq1_0_block": tq1,
        "test_pack_hf_bitnet": bitnet,
        "test_awq_word_codes": awq,
    }
