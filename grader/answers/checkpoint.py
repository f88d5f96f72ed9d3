"""Sample submissions for lesson 05 and the exact score nbgrader must give each (out of 10)."""

EXPECTED = {
    "sample_correct": 10.0,
    "sample_blank": 0.0,
    # bits_needed compares 2**bits < max_value, forgetting that b bits top out at 2**b - 1: right
    # for every visible case (0, 1, 3, 15, 255), one bit short at every power of two (2, 4, ... 128),
    # which only the hidden all-codes test sees: 0 of 3. compression_ratio counts model.state_dict()
    # instead of the parameters: right for the MLP, wrong for a network with batchnorm running
    # statistics (hidden): 0 of 2. save_mixed (3) and load_mixed (2) are right.
    "sample_partial": 5.0,
}

ANSWERS = {
    "sample_partial": {
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
