"""Sample submissions for lesson 05 and the exact score nbgrader must give each (out of 19)."""

EXPECTED = {
    "sample_correct": 19.0,
    "sample_blank": 0.0,
    # quantize_uint forgets that an all-zero group has scale 0: right on every visible case, NaN codes
    # for the hidden zero tensors: 0 of 4. dequantize is right: 2 of 2. unpack_weight reads the first
    # code from the HIGH bits of each byte (MSB first, seed 002's order): the visible byte 0b11100100
    # gives 3, 2, 1 instead of 0, 1, 2: 0 of 3.
    # bits_needed compares 2**bits < max_value, forgetting that b bits top out at 2**b - 1: right
    # for every visible case (0, 1, 3, 15, 255), one bit short at every power of two (2, 4, ... 128),
    # which only the hidden all-codes test sees: 0 of 3. compression_ratio counts model.state_dict()
    # instead of the parameters: right for the MLP, wrong for a network with batchnorm running
    # statistics (hidden): 0 of 2. save_mixed (3) and load_mixed (2) are right.
    "sample_partial": 7.0,
}

ANSWERS = {
    "sample_partial": {
        "quantize_uint": '''
def quantize_uint(w, bits, group_size=None, symmetric=False):
    if not 1 <= bits <= 8 or (symmetric and bits < 2):
        raise ValueError(f"bad bits {bits}")
    g = w.numel() if group_size is None else group_size
    if g < 1 or w.numel() % g:
        raise ValueError(f"group_size {group_size} does not divide {w.numel()}")
    qmax = 2**bits - 1
    x = w.float().reshape(-1, g)
    if symmetric:
        scale = half_up(x.abs().amax(dim=1) / (2 ** (bits - 1) - 1))
        zero = torch.full_like(scale.float(), 2 ** (bits - 1))
    else:
        lo, hi = x.amin(dim=1).clamp(max=0), x.amax(dim=1).clamp(min=0)
        scale = half_up((hi - lo) / qmax)
        zero = torch.round(-lo / scale.float()).clamp(0, qmax)
    codes = (torch.round(x / scale.float()[:, None]) + zero[:, None]).clamp(0, qmax)
    return codes.to(torch.uint8).reshape(w.shape), scale, zero.to(torch.uint8)
''',
        "dequantize": '''
def dequantize(codes, scale, zero_point, group_size=None):
    rows = codes.float().reshape(-1, codes.numel() if group_size is None else group_size)
    return ((rows - zero_point.float()[:, None]) * scale.float()[:, None]).reshape(codes.shape)
''',
        "unpack_weight": '''
def unpack_weight(packed, bits, in_features, scale, zero_point):
    per_byte = 8 // bits
    shifts = bits * (per_byte - 1 - torch.arange(per_byte))
    codes = ((packed.long()[:, :, None] >> shifts) & (2**bits - 1)).reshape(packed.shape[0], -1)[:, :in_features]
    g = in_features // scale.shape[1]
    return (codes.float() - zero_point.float().repeat_interleave(g, dim=1)) * scale.float().repeat_interleave(g, dim=1)
''',
        "bits_needed": '''
def bits_needed(max_value):
    if max_value < 0 or max_value > 255:
        raise ValueError(f"max_value must be 0..255, got {max_value}")
    bits = 1
    while 2**bits < max_value:
        bits += 1
    return bits
''',
        "save_mixed": '''
def save_mixed(model, bits_per_layer, path):
    state = dict(model.state_dict())
    for name, bits in bits_per_layer.items():
        if name not in state:
            raise ValueError(f"no layer called {name}")
        weight = state[name]
        state[name] = checkpoint.quantize_uint(weight, bits, group_size=weight.shape[1])
    checkpoint.save(path, state)
''',
        "load_mixed": '''
def load_mixed(path, model):
    loaded = checkpoint.load(path)
    weights = {}
    for name, value in loaded.items():
        weights[name] = checkpoint.dequantize(value) if isinstance(value, checkpoint.QuantizedTensor) else value
    model.load_state_dict(weights)
    return model
''',
        "compression_ratio": '''
def compression_ratio(path, model):
    values = sum(t.numel() for t in model.state_dict().values())
    return values * 4 / os.path.getsize(path)
''',
    },
}
