"""Independent checks for lesson 01 (see grader/verify.py): run outside the student's kernel.

PRELUDE is what the solution cells may assume (the lesson's setup, minus lowbit_ref); BLOCKED
are packages the answers may not import; checks() maps each graded test cell to the calls whose
outputs must match lowbit_ref's exactly. The cases are the notebook's own: visible ``cases`` and
hidden literals, read from the solutions notebook by ``common.cell_literals`` (one spec).
"""

import torch

from common import cell_literals
from lowbit_ref import loop
from verify import call, raises, value

LESSON = "01_bits_and_loops"
PRELUDE = "import time\nimport torch\n"
BLOCKED = ("lowbit_ref",)


def u8(values):
    return torch.tensor(values, dtype=torch.uint8)


def checks():
    g = torch.Generator().manual_seed(2024)
    pack, unpack, four = (cell_literals(LESSON, cell) for cell in ("test_pack_weights", "test_unpack_weights", "test_four_bits"))
    pack_calls = [call("pack_weights", u8(values), bits, expect=u8(expected)) for values, bits, expected in pack["cases"]]
    for bits in pack["BITS"]:
        for n_bytes in pack["N_BYTES"]:
            x = torch.randint(0, 2**bits, (n_bytes * (8 // bits),), dtype=torch.uint8, generator=g)
            pack_calls.append(call("pack_weights", x, bits, expect=loop.pack_weights(x, bits)))
    pack_calls += [raises("pack_weights", u8(values), bits) for values, bits in pack["REFUSED"]]

    unpack_calls = [call("unpack_weights", u8(data), bits, expect=u8(expected)) for data, bits, expected in unpack["cases"]]
    for bits in unpack["BITS"]:
        for n_bytes in unpack["N_BYTES"]:
            data = torch.randint(0, 256, (n_bytes,), dtype=torch.uint8, generator=g)
            unpack_calls.append(call("unpack_weights", data, bits, expect=loop.unpack_weights(data, bits)))

    nibbles = [low | high << 4 for low, high in four["NIBBLES"]]
    return {
        "test_pack_weights": pack_calls,
        "test_unpack_weights": unpack_calls,
        "test_four_bits": [value("nibble_bytes", nibbles)],
    }
