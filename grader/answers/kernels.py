"""Sample submissions for lesson 06 and the exact score nbgrader must give each (out of 14).

Points: matvec_bytes 2, unpack2_kernel 4, ternary_matvec_kernel 4, ternary_matmul_kernel 4. Graded on the CPU: the
notebook's first cell turns on Triton's interpreter when there is no GPU.

sample_partial forgets the tail in both kernels, the mistake the lesson is about; the visible
tests of exercise 3 use whole blocks only, so they pass:

- unpack2_kernel masks its stores with the mask of the bytes it loaded (``byte < n_bytes``)
  instead of the output indices. With whole blocks every lane is real; with ``n_values`` not a
  multiple of 4 it stores the padding fields of the last byte past the end of ``dst``. The
  launcher's canary catches the stray stores and raises IndexError (already in the visible
  tail test). 0 of 4.
- ternary_matvec_kernel loads ``x`` and the scales with the byte mask too, so the padding fields
  of a row's last byte (columns >= n_cols) read past the end of ``x``; the launcher puts NaN
  there and ``y`` comes out NaN. 0 of 4.

matvec_bytes is right: 2. ternary_matmul_kernel is not answered (the stub): 0 of 4.
"""

EXPECTED = {
    "sample_correct": 14.0,
    "sample_blank": 0.0,
    "sample_partial": 2.0,
}

ANSWERS = {
    "sample_partial": {
        "matvec_bytes": '''
import math

def matvec_bytes(out_features, in_features, bits, group_size):
    weights = out_features * math.ceil(in_features * bits / 8)
    scales = 0 if group_size is None else out_features * math.ceil(in_features / group_size) * 2
    return weights + scales + 2 * in_features + 2 * out_features
''',
        "unpack2_kernel": '''
@triton.jit
def unpack2_kernel(src, dst, n_bytes, n_values, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    byte = pid * BLOCK + tl.arange(0, BLOCK)  # (BLOCK,) the bytes this program unpacks
    packed = tl.load(src + byte, mask=byte < n_bytes, other=0).to(tl.int32)  # (BLOCK,)
    for slot in tl.static_range(4):
        value = (packed >> (2 * slot)) & 3
        tl.store(dst + 4 * byte + slot, value.to(tl.uint8), mask=byte < n_bytes)
''',
        "ternary_matvec_kernel": '''
@triton.jit
def ternary_matvec_kernel(w, scale, x, y, n_cols, row_bytes, n_groups, group_size, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    acc = tl.zeros((BLOCK,), dtype=tl.float32)  # (BLOCK,) partial sums, added up at the end
    for start in range(0, row_bytes, BLOCK):
        byte = start + tl.arange(0, BLOCK)  # (BLOCK,) bytes of this row in this step
        packed = tl.load(w + row * row_bytes + byte, mask=byte < row_bytes, other=0).to(tl.int32)  # (BLOCK,)
        in_row = byte < row_bytes
        for slot in tl.static_range(4):
            c = 4 * byte + slot
            t = ((packed >> (2 * slot)) & 3).to(tl.float32) - 1.0
            s = tl.load(scale + row * n_groups + c // group_size, mask=in_row, other=0.0)
            v = tl.load(x + c, mask=in_row, other=0.0)
            acc += t * s * v
    tl.store(y + row, tl.sum(acc, axis=0))
''',
    },
}
