"""Sample submissions for lesson 02 and the exact score nbgrader must give each (out of 13).

Points: pack_2bit 2, unpack_2bit 2, four_bit 2, pack_bits 3, unpack_bits 3, pack_2bit_msb 1.
"""

EXPECTED = {
    "sample_correct": 13.0,
    "sample_blank": 0.0,
    # Two bugs that pass every visible test and fail a hidden one:
    # - pack_2bit flattens with .view(-1), as the seed notebook does but without its
    #   .contiguous(): fine on the freshly made tensors of the visible tests, a RuntimeError on a
    #   transposed or an empty one (hidden tests): 0 of 2;
    # - pack_4bit shifts a slice of its input in place: the bytes are right, but the caller's
    #   tensor is changed (hidden test): 0 of 2.
    # unpack_2bit, pack_bits and pack_2bit_msb are right: 2 + 3 + 1; unpack_bits is not answered.
    "sample_partial": 6.0,
}

ANSWERS = {
    "sample_partial": {
        "pack_2bit": '''
def pack_2bit(x):
    if x.shape[-1] % 4 != 0:
        raise ValueError("last dim must be a multiple of 4")
    if (x > 3).any():
        raise ValueError("values must be 0..3")
    flat = x.view(-1)  # rows of a multiple of 4 values line up with groups of 4
    packed = flat[0::4] | flat[1::4] << 2 | flat[2::4] << 4 | flat[3::4] << 6
    return packed.view(*x.shape[:-1], -1)
''',
        "unpack_2bit": '''
def unpack_2bit(packed):
    out = torch.empty(*packed.shape[:-1], 4 * packed.shape[-1], dtype=torch.uint8, device=packed.device)
    for j in range(4):
        out[..., j::4] = (packed >> (2 * j)) & 3
    return out
''',
        "four_bit": '''
def pack_4bit(x):
    if x.shape[-1] % 2 != 0:
        raise ValueError("last dim must be even")
    high = x[..., 1::2]
    high <<= 4  # a slice is a view: this shifts the caller's values too
    return x[..., 0::2] | high


def unpack_4bit(packed):
    return torch.stack((packed % 16, packed // 16), dim=-1).reshape(*packed.shape[:-1], 2 * packed.shape[-1])
''',
        "pack_bits": '''
def pack_bits(values, bits):
    g = values.view(-1, 8).long()
    word = torch.zeros(g.shape[0], dtype=torch.long, device=values.device)
    for j in range(8):  # over the 8 slots of a group, not over values
        word |= g[:, j] << (bits * j)
    out = torch.stack([(word >> (8 * k)) & 255 for k in range(bits)], dim=1)
    return out.to(torch.uint8).flatten()
''',
        "pack_2bit_msb": '''
def pack_2bit_msb(x):
    if x.shape[-1] % 4 != 0:
        raise ValueError(f"last dim must be a multiple of 4, got {x.shape[-1]}")
    return (x[..., 0::4] << 6) | (x[..., 1::4] << 4) | (x[..., 2::4] << 2) | x[..., 3::4]
''',
    },
}
