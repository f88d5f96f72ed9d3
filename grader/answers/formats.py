"""Sample submissions for lesson 07 and the exact score nbgrader must give each (out of 13)."""

EXPECTED = {
    "sample_correct": 13.0,
    "sample_blank": 0.0,
    # decode_tq2_0_block (3), pack_hf_bitnet (2) and export_gguf (3) are right.
    # decode_tq1_0_block decodes right but finds digits with // and %: the visible "no division"
    # test fails, 0 of 3. awq_word_codes reads nibble i as column i (lesson 02's order, not AWQ's
    # 0, 2, 4, 6, 1, 3, 5, 7): the first visible word already shows it, 0 of 2.
    "sample_partial": 8.0,
}

ANSWERS = {
    "sample_partial": {
        "decode_tq2_0_block": '''
def decode_tq2_0_block(block):
    if block.dtype != torch.uint8 or block.numel() != 66 or block.dim() != 1:
        raise ValueError("a TQ2_0 block is 66 uint8 bytes")
    trits = torch.empty(256, dtype=torch.int8)
    for c in range(2):
        for n in range(4):
            fields = (block[32 * c : 32 * c + 32] >> (2 * n)) & 3
            if (fields == 3).any():
                raise ValueError("field 3 is not a trit")
            trits[128 * c + 32 * n : 128 * c + 32 * n + 32] = fields.to(torch.int8) - 1
    return trits, block[64:66].view(torch.float16)[0]
''',
        "decode_tq1_0_block": '''
def decode_tq1_0_block(block):
    if block.dtype != torch.uint8 or block.shape != (54,):
        raise ValueError("a TQ1_0 block is 54 uint8 bytes")
    v = (block[:52].to(torch.int32) * 243) // 256  # back to the base-3 number, then divide it up
    digits = torch.stack([(v // 3 ** (4 - j)) % 3 for j in range(5)])
    trits = torch.cat([digits[:, :32].reshape(-1), digits[:, 32:48].reshape(-1), digits[:4, 48:].reshape(-1)])
    return (trits - 1).to(torch.int8), block[52:].view(torch.float16)[0]
''',
        "pack_hf_bitnet": '''
def pack_hf_bitnet(trits):
    if trits.abs().max() > 1:
        raise ValueError("not a trit")
    rows = math.ceil(trits.shape[0] / 4)
    padded = torch.full((4 * rows, trits.shape[1]), -1, dtype=torch.int16)
    padded[: trits.shape[0]] = trits
    planes = (padded + 1).view(4, rows, trits.shape[1])
    return (planes[0] | planes[1] << 2 | planes[2] << 4 | planes[3] << 6).to(torch.uint8)
''',
        "awq_word_codes": '''
def awq_word_codes(word):
    if word < -2**31 or word >= 2**32:
        raise ValueError("not a 32-bit word")
    return [(word >> (4 * i)) & 15 for i in range(8)]
''',
        "export_gguf": '''
def export_gguf(path, weights, ternary_type="TQ2_0"):
    tensors = {}
    for name, w in weights.items():
        tensors[name] = quantize_ternary(w, group_size=256)
    return save_gguf(path, tensors, ternary_type=ternary_type)
''',
    },
}
