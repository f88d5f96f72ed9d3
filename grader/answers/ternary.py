"""Sample submissions for lesson 03 and the exact score nbgrader must give each (out of 10).

Points: quantize 3, dequantize 1, pack_trits_2bit 2, unpack_trits_2bit 2, quantize_groups 2.

sample_partial makes two mistakes that the visible tests cannot see:

- quantize guards the all-zero tensor the way much published code does, by adding an epsilon
  to the scale (``mean(|w|) + 1e-8``) instead of flooring it. For weights of ordinary size
  (mean |w| ~ 1) the epsilon is below float32's resolution and every visible test passes,
  the all-zero one included (scale 1e-8: finite and positive). The exercise states that
  scaling w by c > 0 must scale the scale by c and leave the codes alone "for c = 1e-9 as much
  as for c = 1e9"; the hidden test quantizes randn * 1e-9 and randn * 1e-6, where the epsilon
  swamps or shifts the scale (1e-8 + ~8e-10), so the scale is wrong and, at 1e-9, every code
  is 0. Fair: the rule is in the exercise text and the hint warns against an added constant.
  0 of 3.
- quantize_groups unpacks ``rows, cols = w.shape``, so it works for the 2-D inputs of the
  visible tests only. The exercise says "any number of dimensions"; the hidden test gives a
  1-D and a 3-D tensor. 0 of 2.

dequantize, pack_trits_2bit (a loop) and unpack_trits_2bit (a loop) are right: 1 + 2 + 2 = 5.
"""

EXPECTED = {
    "sample_correct": 10.0,
    "sample_blank": 0.0,
    "sample_partial": 5.0,
}

ANSWERS = {
    "sample_partial": {
        "quantize": '''
def quantize(w):
    if torch.isnan(w).any() or torch.isinf(w).any():
        raise ValueError("w has NaN or inf")
    scale = w.abs().mean() + 1e-8  # so the all-zero tensor does not divide by zero
    codes = torch.clamp(torch.round(w / scale), -1, 1).to(torch.int8)
    return codes, scale
''',
        "dequantize": '''
def dequantize(codes, scale):
    return codes * scale
''',
        "pack_trits_2bit": '''
def pack_trits_2bit(codes):
    if codes.dim() != 1 or len(codes) % 4:
        raise ValueError("need a 1-D tensor whose length is a multiple of 4")
    out = torch.zeros(len(codes) // 4, dtype=torch.uint8)
    for i, c in enumerate(codes.tolist()):
        if c not in (-1, 0, 1):
            raise ValueError(f"{c} is not a ternary code")
        out[i // 4] |= (c + 1) << (2 * (i % 4))
    return out
''',
        "unpack_trits_2bit": '''
def unpack_trits_2bit(packed):
    out = []
    for byte in packed.tolist():
        for j in range(4):
            field = (byte >> (2 * j)) & 3
            if field == 3:
                raise ValueError("0b11 is not a packed trit")
            out.append(field - 1)
    return torch.tensor(out, dtype=torch.int8)
''',
        "quantize_groups": '''
def quantize_groups(w, group_size):
    rows, cols = w.shape
    if group_size < 1 or cols % group_size:
        raise ValueError(f"group_size {group_size} does not divide {cols}")
    if not torch.isfinite(w).all():
        raise ValueError("w has NaN or inf")
    groups = w.reshape(rows, cols // group_size, group_size)
    scales = groups.abs().mean(dim=2, keepdim=True).clamp_min(1e-30)
    codes = torch.clamp(torch.round(groups / scales), -1, 1).to(torch.int8)
    return codes.reshape(rows, cols), scales.reshape(rows, cols // group_size)
''',
    },
}
