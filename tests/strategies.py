"""Hypothesis strategies shared by the library tests."""

import torch
from hypothesis import strategies as st

from lowbit_ref.ternary import TRIT_DTYPES


@st.composite
def trits_and_dim(draw, max_dims=4, max_side=9, max_length=None):
    """A trit tensor of any shape (0-d, empty, sometimes not contiguous) and a dim to pack along.

    With ``max_length``, the packed dim gets longer rows: many bytes, and a partial one.
    """
    shape = draw(st.lists(st.integers(0, max_side), max_size=max_dims))
    ndim = max(len(shape), 1)
    dim = draw(st.integers(-ndim, ndim - 1))
    if shape and max_length is not None:
        shape[dim] = draw(st.integers(0, max_length))
    dtype = draw(st.sampled_from(TRIT_DTYPES))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31)))
    t = torch.randint(-1, 2, tuple(shape), generator=gen, dtype=dtype)
    if draw(st.booleans()) and t.dim() >= 2:
        t = t.transpose(0, -1)  # not contiguous
    return t, dim
