"""Sample submissions for lesson 04 and the exact score nbgrader must give each (out of 9)."""

EXPECTED = {
    "sample_correct": 9.0,
    "sample_blank": 0.0,
    # pack_trits_base3 (3), unpack_trits_divmod (2) and packed_sizes (1) are right. unpack_trits_fast
    # computes q = ceil(v * 256 / 243) in float16: the visible bytes decode right, but 10 of the
    # 243 bytes (75, 94, 131, 132, 150, 169, 187, 188, 206, 225) come out one digit off, which
    # only the hidden all-bytes test sees: 0 of 3.
    "sample_partial": 6.0,
    # Right everywhere, but unpack_trits_fast divides and its cell redefines `divisions` so the
    # visible test passes in the notebook: the grader parses the cell itself, 0 of 3.
    "sample_hides_division": 6.0,
}

ANSWERS = {
    "sample_partial": {
        "pack_trits_base3": '''
def pack_trits_base3(trits):
    if (trits.abs() > 1).any():
        raise ValueError("every value must be -1, 0 or 1")
    pad = (-trits.shape[0]) % 5
    padded = torch.cat([trits, torch.zeros(pad, dtype=trits.dtype, device=trits.device)])
    digits = (padded.to(torch.int32) + 1).view(-1, 5)
    out = torch.zeros(digits.shape[0], dtype=torch.int32, device=trits.device)
    for i in range(5):
        out += digits[:, i] * 3**i
    return out.to(torch.uint8)
''',
        "unpack_trits_divmod": '''
def unpack_trits_divmod(packed):
    if (packed > 242).any():
        raise ValueError(f"byte {int(packed.max())} is above 242")
    v = packed.long()
    columns = []
    for _ in range(5):
        columns.append(v % 3)
        v = v // 3
    return (torch.stack(columns, dim=1) - 1).to(torch.int8).flatten()
''',
        "unpack_trits_fast": '''
def unpack_trits_fast(packed):
    # half precision is plenty for numbers below 256
    q = torch.ceil(packed.half() * (256 / 243)).int()
    out = torch.empty(len(packed), 5, dtype=torch.int8, device=packed.device)
    for i in range(4, -1, -1):
        q = q * 3
        out[:, i] = q >> 8
        q = q & 0xFF
    return (out - 1).flatten()
''',
        "packed_sizes": '''
def packed_sizes(n):
    return math.ceil(n / 4), math.ceil(n / 5)
''',
    },
}

ANSWERS["sample_hides_division"] = {
    "@solutions": True,
    "unpack_trits_fast": '''
def divisions(fn):
    return []


def unpack_trits_fast(packed):
    v = packed.to(torch.int16)
    return (torch.stack([(v // 3**i) % 3 for i in range(5)], dim=1) - 1).to(torch.int8).reshape(-1)
''',
}
