"""Benchmark rows for llama.cpp's ternary blocks: ``python -m lowbit_ref.bench --formats tq2_0,tq1_0``.

Decoding TQ2_0 / TQ1_0 blocks, measured like every other row of ``lowbit_ref.bench`` (time
against the copy floor of the same bytes, best of ``repeat`` interleaved rounds), in three ways:

- ``lowbit_ref`` — ``from_tq2_0`` / ``from_tq1_0``: int8 trits and float16 scales (reads the
  blocks, writes one byte per value);
- ``lowbit_ref float32`` — the same, then ``trits * scale`` as float32 weights, which is what
- ``gguf (numpy)`` — llama.cpp's gguf-py ``gguf.quants.dequantize`` returns (reads the blocks,
  writes four bytes per value). Skipped with a note when the ``gguf`` package is missing.

Every result is checked before it is timed (trits against the source, float32 against gguf).
"""

from __future__ import annotations

import math

import torch

from .bench_common import Row, measure, torch_threads
from .errors import LowbitError
from .formats import from_tq1_0, from_tq2_0, to_tq1_0, to_tq2_0

FORMATS = ("tq2_0", "tq1_0")
_CODECS = {"tq2_0": (to_tq2_0, from_tq2_0, 66, "TQ2_0"), "tq1_0": (to_tq1_0, from_tq1_0, 54, "TQ1_0")}


def run(*, log2_size: int = 26, repeat: int = 5, formats: tuple[str, ...] = FORMATS, threads: int | None = 1,
        progress=None) -> list[Row]:
    """One ``Row`` per decoder and format, on the CPU, at ``2**log2_size`` values (a multiple of 256).

    >>> sorted({row.impl for row in run(log2_size=9, repeat=1, formats=("tq2_0",))})  # doctest: +SKIP
    ['gguf (numpy)', 'lowbit_ref', 'lowbit_ref float32']
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise LowbitError(f"formats must be some of {FORMATS}, got {unknown}")
    n = 1 << log2_size
    if n % 256:
        raise LowbitError(f"log2_size must be at least 8 (whole 256-value blocks), got {log2_size}")
    try:
        from gguf import GGMLQuantizationType
        from gguf.quants import dequantize
    except ImportError:
        dequantize = None
        print("lowbit_ref.bench: the gguf package is not installed; its rows are left out (pip install gguf)")
    gen = torch.Generator().manual_seed(0)
    rows = []
    with torch_threads(threads):
        for fmt in formats:
            encode, decode, block, qtype = _CODECS[fmt]
            if progress:
                progress(fmt)
            trits = torch.randint(-1, 2, (n // 256, 256), dtype=torch.int8, generator=gen)
            scales = torch.rand((n // 256, 1), generator=gen) + 0.5
            data = encode(trits, scales).reshape(-1)  # (n / 256 * block,) bytes, as a GGUF row of blocks
            got, got_scales = decode(data)
            if not torch.equal(got, trits.view(-1)):
                raise LowbitError(f"bench: {fmt} decode does not give back the trits it was given")

            def as_float(data=data, decode=decode):
                t, d = decode(data)
                return (t.view(-1, 256) * d.float().view(-1, 1)).view(-1)  # float32 weights

            weights = as_float()
            cases = [
                ("lowbit_ref", lambda data=data, decode=decode: decode(data), data.numel() + n + 2 * (n // 256)),
                ("lowbit_ref float32", as_float, data.numel() + 4 * n),
            ]
            if dequantize is not None:
                raw = data.numpy()
                reference = torch.from_numpy(dequantize(raw, GGMLQuantizationType[qtype]))
                if weights.dtype != torch.float32 or not torch.equal(weights, reference):
                    raise LowbitError(f"bench: {fmt} float32 decode differs from gguf.quants.dequantize")
                cases.append(("gguf (numpy)", lambda raw=raw, q=GGMLQuantizationType[qtype]: dequantize(raw, q),
                              data.numel() + 4 * n))
            timed = measure([(fn, nbytes) for _, fn, nbytes in cases], torch.device("cpu"), repeat)
            for (impl, _, nbytes), (seconds, floor) in zip(cases, timed):
                rows.append(Row("cpu", fmt, "unpack", impl, n, nbytes, seconds, floor))
    assert math.isfinite(sum(r.seconds for r in rows))
    return rows
