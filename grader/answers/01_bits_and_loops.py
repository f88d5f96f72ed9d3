"""Sample submissions for lesson 01 and the exact score nbgrader must give each (out of 8)."""

EXPECTED = {
    "sample_correct": 8.0,
    "sample_blank": 0.0,
    # pack_weights passes every visible test but crashes on an empty tensor (hidden test): 0 of 3;
    # unpack_weights and the 4-bit answer are right: 3 + 2.
    "sample_partial": 5.0,
}

ANSWERS = {
    "sample_partial": {
        "pack_weights": '''
def pack_weights(uint8tensor, bits):
    per_byte = 8 // bits
    if uint8tensor.shape[0] % per_byte:
        raise ValueError("length must be a multiple of 8 // bits")
    if int(uint8tensor.max()) >= 2**bits:  # .max() of an empty tensor raises
        raise ValueError("value too large")
    packed = torch.zeros(uint8tensor.shape[0] // per_byte, dtype=torch.uint8)
    for k in range(uint8tensor.shape[0]):
        packed[k // per_byte] |= uint8tensor[k] << (bits * (k % per_byte))
    return packed
''',
        "unpack_weights": '''
def unpack_weights(packed, bits):
    per_byte = 8 // bits
    out = []
    for byte in packed.tolist():
        out += [(byte >> (bits * j)) & (2**bits - 1) for j in range(per_byte)]
    return torch.tensor(out, dtype=torch.uint8)
''',
        "nibble_bytes": "nibble_bytes = [9 | 4 << 4, 15 | 2 << 4]",
    },
}
