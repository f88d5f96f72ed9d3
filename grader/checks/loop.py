"""Independent checks for lesson 01 (see grader/verify.py): run outside the student's kernel.

PRELUDE is what the solution cells may assume (the lesson's setup, minus lowbit_ref); BLOCKED
are packages the answers may not import; checks() maps each graded test cell to the calls whose
outputs must match lowbit_ref's exactly.
"""

import torch

from lowbit_ref import loop
from verify import call, raises, value

PRELUDE = "import time\nimport torch\n"
BLOCKED = ("lowbit_ref",)


def u8(values):
    return torch.tensor(values, dtype=torch.uint8)


def checks():
    g = torch.Generator().manual_seed(2024)
    random = {bits: torch.randint(0, 2**bits, (24,), dtype=torch.uint8, generator=g) for bits in (1, 2, 4, 8)}
    packed = torch.randint(0, 256, (11,), dtype=torch.uint8, generator=g)
    return {
        "test_pack_weights": [
            call("pack_weights", u8([1, 0, 3, 2]), 2, expect=u8([177])),
            *(call("pack_weights", x, bits, expect=loop.pack_weights(x, bits)) for bits, x in random.items()),
            call("pack_weights", u8([]), 2, expect=u8([])),
            raises("pack_weights", u8([1, 2, 3]), 2),
            raises("pack_weights", u8([1, 0, 4, 2]), 2),
        ],
        "test_unpack_weights": [
            call("unpack_weights", u8([177]), 2, expect=u8([1, 0, 3, 2])),
            *(call("unpack_weights", packed, bits, expect=loop.unpack_weights(packed, bits)) for bits in (1, 2, 4, 8)),
        ],
        "test_four_bits": [
            value("nibble_bytes", [73, 47]),
            call("pack_weights", u8([9, 4, 15, 2, 0, 15]), 4, expect=u8([73, 47, 240])),
            call("unpack_weights", u8([73, 47, 240]), 4, expect=u8([9, 4, 15, 2, 0, 15])),
        ],
    }
