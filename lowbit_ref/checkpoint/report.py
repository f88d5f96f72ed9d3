"""Sizes of a checkpoint (``size_report``) and the command line,
``python -m lowbit_ref.checkpoint inspect FILE``."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from ..errors import LowbitError
from ..quantize import QuantizedTensor, quantize_uint  # noqa: F401  (quantize_uint: the doctest)
from .format import load

@dataclass(frozen=True)
class TensorSize:
    """One row of a size report. ``bits``: stored bits per value (1.6 for base-3, 32 for a
    float32 plain tensor); ``stored_bytes``: packed data + scale + zero point, or the tensor."""

    name: str
    scheme: str
    bits: float
    shape: tuple[int, ...]
    stored_bytes: int

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def fp32_bytes(self) -> int:
        return self.numel * 4


@dataclass(frozen=True)
class SizeReport:
    """Per-tensor sizes and the whole checkpoint's compression against fp32 (``numel * 4``).

    ``file_bytes`` is the file on disk (tensors + header) when the report came from a file;
    ``compression`` divides by it, else by the tensors' bytes alone.
    """

    rows: tuple[TensorSize, ...]
    file_bytes: int | None = None

    @property
    def numel(self) -> int:
        return sum(r.numel for r in self.rows)

    @property
    def fp32_bytes(self) -> int:
        return sum(r.fp32_bytes for r in self.rows)

    @property
    def stored_bytes(self) -> int:
        return sum(r.stored_bytes for r in self.rows)

    @property
    def compression(self) -> float:
        denominator = self.stored_bytes if self.file_bytes is None else self.file_bytes
        return self.fp32_bytes / denominator if denominator else math.inf

    def table(self) -> str:
        """The report as text: one line per tensor, then totals."""
        width = max([len("name")] + [len(r.name) for r in self.rows])
        lines = [f"{'name':<{width}}  {'scheme':<8}  {'bits':>4}  {'shape':<20}  {'stored bytes':>14}"]
        for r in self.rows:
            lines.append(f"{r.name:<{width}}  {r.scheme:<8}  {r.bits:>4g}  {str(tuple(r.shape)):<20}  "
                         f"{r.stored_bytes:>14,}")
        sized = lambda n: f"{n:>14,} bytes  {n / 1e6:9.3f} MB  {n / 2**20:9.3f} MiB"  # noqa: E731
        lines += ["", f"{len(self.rows)} tensors, {self.numel:,} values",
                  f"fp32 (numel * 4)    {sized(self.fp32_bytes)}",
                  f"stored tensors      {sized(self.stored_bytes)}"]
        if self.file_bytes is not None:
            lines.append(f"file (with header)  {sized(self.file_bytes)}")
        lines.append(f"compression vs fp32 {self.compression:.2f}x"
                     f" ({'file' if self.file_bytes is not None else 'stored tensors'})")
        return "\n".join(lines)


def size_report(source) -> SizeReport:
    """Sizes of a state dict, or of a checkpoint file (loaded and checked, its size measured).

    >>> state = {"w": quantize_uint(torch.ones(4, 8), 4, group_size=8), "b": torch.zeros(4)}
    >>> [(r.name, r.scheme, r.bits, r.stored_bytes) for r in size_report(state).rows]
    [('w', 'uint', 4.0, 28), ('b', 'plain', 32.0, 16)]
    """
    file_bytes = None
    if isinstance(source, (str, os.PathLike)):
        state, file_bytes = load(source), os.path.getsize(source)
    elif isinstance(source, Mapping):
        state = source
    else:
        raise LowbitError(f"source must be a checkpoint path or a state dict, got {type(source).__name__}")
    nbytes = lambda t: 0 if t is None else t.numel() * t.element_size()  # noqa: E731
    rows = []
    for name, v in state.items():
        if isinstance(v, QuantizedTensor):
            p = v.packed
            rows.append(TensorSize(name, p.scheme, p.bits_per_value, tuple(p.shape),
                                   p.nbytes + nbytes(v.scale) + nbytes(v.zero_point)))
        elif isinstance(v, torch.Tensor):
            rows.append(TensorSize(name, "plain", float(v.element_size() * 8), tuple(v.shape), nbytes(v)))
        else:
            raise LowbitError(f"state[{name!r}] must be a QuantizedTensor or a torch.Tensor, got {type(v).__name__}")
    return SizeReport(tuple(rows), file_bytes)


def main(argv: list[str] | None = None) -> int:
    """``python -m lowbit_ref.checkpoint inspect FILE``: print a checkpoint's size table."""
    parser = argparse.ArgumentParser(prog="python -m lowbit_ref.checkpoint",
                                     description="Check a lowbit_ref checkpoint and print its tensors' sizes.")
    commands = parser.add_subparsers(dest="command", required=True)
    inspect = commands.add_parser("inspect", help="check a checkpoint and print its tensors' sizes")
    inspect.add_argument("file")
    args = parser.parse_args(argv)
    try:
        print(size_report(args.file).table())
    except LowbitError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
