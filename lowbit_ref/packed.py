"""PackedTensor: packed bytes plus everything needed to get the original tensor back.

The bytes alone do not say how many values they hold (the last byte may be padding), which
width they use, or along which dimension they were packed. A ``PackedTensor`` carries that
metadata next to ``data`` so ``unpack(packed)`` needs no other argument and returns exactly the
original tensor: same shape, dtype and device.

``data`` has the original shape with the packed dimension shortened to the byte count of one
row: ``ceil(n * bits / 8)`` for the bit-stream schemes, ``ceil(n / 5)`` for base-3.
The metadata is checked when a ``PackedTensor`` is made, so one whose bytes disagree with its
shape cannot exist (a truncated or hand-edited tensor is refused, never silently misread).

``unpack(packed)`` is the one unpack for every scheme: it looks the scheme up in a registry that
each scheme's module fills when it is imported (``lowbit_ref.uintx`` registers "uint",
``lowbit_ref.ternary`` "ternary2", ``lowbit_ref.base3`` "base3"; importing ``lowbit_ref`` imports
all three). So this module depends on no scheme, and the schemes depend on it, never the reverse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from .checks import ORDERS
from .errors import LowbitError, describe

#: How values are stored. "uint": unsigned integers of ``bits`` bits in a bit stream;
#: "ternary2": int8 trits {-1, 0, 1} stored as trit + 1 in a 2-bit stream;
#: "base3": int8 trits, five per byte as base-3 digits.
SCHEMES = ("uint", "ternary2", "base3")


def packed_length(n: int, scheme: str, bits: int) -> int:
    """Bytes that ``n`` values occupy along the packed dimension."""
    if scheme == "base3":
        return math.ceil(n / 5)
    return math.ceil(n * bits / 8)


@dataclass(frozen=True, eq=False)
class PackedTensor:
    """Packed uint8 bytes and the layout that produced them.

    Attributes:
        data: uint8 tensor of packed bytes, on the original tensor's device.
        bits: bits per value in the stream (2 for "ternary2"; 8/5 is not an integer, so
            base-3 reports ``bits = 2`` for its digit range and ``bits_per_value = 1.6``).
        shape: the original shape.
        dim: the packed dimension, non-negative.
        order: "lsb" (first value in the low bits) or "msb".
        scheme: one of ``SCHEMES``.
        dtype: the original dtype that ``unpack`` returns.
    """

    data: torch.Tensor
    bits: int
    shape: torch.Size
    dim: int
    order: str = "lsb"
    scheme: str = "uint"
    dtype: torch.dtype = torch.uint8

    def __post_init__(self):
        object.__setattr__(self, "shape", torch.Size(self.shape))
        if not isinstance(self.data, torch.Tensor) or self.data.dtype != torch.uint8:
            got = self.data.dtype if isinstance(self.data, torch.Tensor) else type(self.data).__name__
            raise LowbitError(f"PackedTensor data must be a torch.uint8 tensor, got {got}")
        if self.scheme not in SCHEMES:
            raise LowbitError(f"PackedTensor scheme must be one of {SCHEMES}, got {self.scheme!r}")
        if self.order not in ORDERS:
            raise LowbitError(f"PackedTensor order must be one of {ORDERS}, got {self.order!r}")
        if not isinstance(self.bits, int) or not 1 <= self.bits <= 8:
            raise LowbitError(f"PackedTensor bits must be an int in 1..8, got {describe(self.bits)}")
        ndim = max(len(self.shape), 1)
        if not isinstance(self.dim, int) or not 0 <= self.dim < ndim:
            raise LowbitError(
                f"PackedTensor dim must be in 0..{ndim - 1} for shape {tuple(self.shape)}, got {self.dim!r}"
            )
        expected = self.expected_data_shape()
        if tuple(self.data.shape) != expected:
            raise LowbitError(
                f"PackedTensor data has shape {tuple(self.data.shape)}, but {self.scheme} at "
                f"{self.bits} bits for shape {tuple(self.shape)} along dim {self.dim} needs {expected}"
            )

    def expected_data_shape(self) -> tuple[int, ...]:
        """The shape ``data`` must have for this layout (0-d tensors pack as one value)."""
        shape = list(self.shape) or [1]
        shape[self.dim] = packed_length(shape[self.dim], self.scheme, self.bits)
        return tuple(shape)

    @property
    def nbytes(self) -> int:
        """Bytes of packed data (metadata not counted)."""
        return self.data.numel()

    @property
    def numel(self) -> int:
        """Number of values packed."""
        return math.prod(self.shape)

    @property
    def bits_per_value(self) -> float:
        """Storage cost per value of the scheme, padding not counted: 1.6 for base-3."""
        return 8 / 5 if self.scheme == "base3" else float(self.bits)

    @property
    def device(self) -> torch.device:
        return self.data.device

    def to(self, device) -> "PackedTensor":
        """The same packed tensor with its bytes on ``device``."""
        return PackedTensor(self.data.to(device), self.bits, self.shape, self.dim, self.order, self.scheme, self.dtype)

    def __repr__(self) -> str:
        return (
            f"PackedTensor(scheme={self.scheme!r}, bits={self.bits}, shape={tuple(self.shape)}, dim={self.dim}, "
            f"order={self.order!r}, dtype={self.dtype}, nbytes={self.nbytes}, device={self.device})"
        )


# --- one unpack for every scheme ----------------------------------------------------------------

#: scheme -> ``unpacker(packed, out=None)``, filled by the scheme modules (``register_unpacker``).
UNPACKERS: dict[str, Callable] = {}


def register_unpacker(scheme: str, unpacker: Callable) -> None:
    """Make ``unpack`` send PackedTensors of ``scheme`` to ``unpacker(packed, out=None)``."""
    if scheme not in SCHEMES:
        raise LowbitError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    UNPACKERS[scheme] = unpacker


def unpack(packed: PackedTensor, *, out: torch.Tensor | None = None) -> torch.Tensor:
    """The tensor that was packed: same shape, dtype and device, for every scheme.

    ``out``, if given, receives the values and is returned: a contiguous tensor of
    ``packed.shape`` and ``packed.dtype`` on the packed device, sharing no memory with
    ``packed.data``.

    >>> import lowbit_ref
    >>> unpack(lowbit_ref.pack_ternary(torch.tensor([1, 0, -1])))
    tensor([ 1,  0, -1])
    """
    if not isinstance(packed, PackedTensor):
        raise LowbitError(f"packed must be a PackedTensor (from pack), got {type(packed).__name__}")
    if packed.scheme not in UNPACKERS:
        raise LowbitError(
            f"packed.scheme {packed.scheme!r} has no unpacker registered (registered: {sorted(UNPACKERS)}); "
            "import lowbit_ref, which registers every scheme"
        )
    return UNPACKERS[packed.scheme](packed, out=out)


def check_packed(packed, scheme: str, caller: str, dtypes: tuple | None = None) -> PackedTensor:
    """Raise ``LowbitError`` unless ``packed`` is a PackedTensor of ``scheme`` (and one of ``dtypes``)."""
    if not isinstance(packed, PackedTensor):
        raise LowbitError(f"{caller}: packed must be a PackedTensor, got {type(packed).__name__}")
    if packed.scheme != scheme:
        raise LowbitError(f"{caller}: packed.scheme must be {scheme!r}, got {packed.scheme!r}")
    if scheme != "uint" and packed.bits != 2:
        raise LowbitError(f"{caller}: packed.bits must be 2 for scheme {scheme!r}, got {packed.bits}")
    if dtypes is not None and packed.dtype not in dtypes:
        names = ", ".join(str(t).removeprefix("torch.") for t in dtypes)
        raise LowbitError(f"{caller}: packed.dtype must be one of ({names}), got {packed.dtype}")
    return packed
