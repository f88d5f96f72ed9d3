"""Throughput of every packing format against a plain copy of the same bytes.

    python -m lowbit_ref.bench                          # CPU, one thread, 2**26 values, best of 5
    python -m lowbit_ref.bench --log2-size 24 --csv bench.csv --plot bench.png
    python -m lowbit_ref.bench --smoke                  # tiny sizes, correctness only (make test runs it)
    python -m lowbit_ref.bench --device cuda            # Triton unpack and fused matvec against a device copy

For pack and unpack of 1, 2, 3, 4-bit "uint", 2-bit ternary and base-3 it prints the time, the
bandwidth and the ratio to the memory floor, for ``lowbit_ref`` writing a new tensor (as a
notebook calls it) and into a preallocated ``out=`` buffer; beside them, at the same size, the
course's seed implementations (re-implemented here step for step: seed 002's strided slices,
seed 004's division and modulo) and, at a smaller size, the Python loop of ``lowbit_ref.loop``.
Every result is checked before it is timed; a wrong one stops the benchmark with an error.

The memory floor
----------------
An operation on large tensors cannot beat the time it takes to move its bytes:

- **bytes moved** = bytes read + bytes written: the values at their dtype plus the packed bytes.
  Packing 2**26 uint8 values at 2 bits reads 2**26 B and writes 2**26 * 2 / 8 B (80 MiB in all);
  the input dtype matters: int64 values would read 8 times as much, so the benchmark packs uint8
  values (int8 trits) and unpacks to the same dtype.
- **copy bandwidth** = bytes moved by ``dst.copy_(src)`` into a preallocated ``dst`` of half the
  bytes moved, divided by its time: the same total bytes (read + written) as the operation, so
  the same mix of cache and memory, measured in the same run, interleaved with the operation.
- **floor** = bytes moved / copy bandwidth, i.e. the time of that copy; the table's ``x floor`` is
  time / floor. 1x means the operation is as fast as copying its bytes.

Both sides are the best of ``--repeat`` rounds on ``--threads`` threads (default one), so the
ratio says how much work beyond moving the bytes an implementation does. A new output tensor
also pays for fresh pages (the operating system zeroes each page on first touch, which costs
about as much as writing it), which an ``out=`` buffer that is reused does not.

On a GPU (``--device cuda``) the same idea measures ``lowbit_ref.kernels.unpack_triton`` and the
fused ``matvec_packed`` against a device-to-device copy of the same bytes, timed with CUDA events;
without CUDA it says so and stops cleanly.

>>> rows = run(log2_size=8, loop_log2_size=6, repeat=1, formats=("uint2",))
>>> sorted({row.impl for row in rows})
['loop', 'lowbit_ref', 'lowbit_ref out=', 'seed 002']
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from dataclasses import asdict, dataclass
from typing import Callable

import torch

from . import base3, loop, ternary, uintx
from .errors import LowbitError

#: Formats measured on the CPU, in table order.
FORMATS = ("uint1", "uint2", "uint3", "uint4", "ternary2", "base3")
#: The issue's targets: time / floor for ``lowbit_ref out=`` on the CPU, one thread, 2**26 values.
TARGETS = {"uint1": 3.0, "uint2": 3.0, "uint4": 3.0, "uint3": 4.0, "base3": 5.0}
#: The size the targets are set at.
TARGET_VALUES = 1 << 26
OPS = ("pack", "unpack")


@dataclass
class Row:
    """One timed implementation of one operation. Times in seconds, sizes in bytes."""

    device: str
    format: str
    op: str
    impl: str
    values: int
    bytes_moved: int
    seconds: float
    floor_seconds: float

    @property
    def gbps(self) -> float:
        return self.bytes_moved / self.seconds / 1e9

    @property
    def floor_gbps(self) -> float:
        """The copy bandwidth this row's floor was measured at."""
        return self.bytes_moved / self.floor_seconds / 1e9

    @property
    def ratio(self) -> float:
        return self.seconds / self.floor_seconds

    @property
    def target(self) -> float | None:
        if self.impl != "lowbit_ref out=" or self.device != "cpu" or self.values != TARGET_VALUES:
            return None
        return TARGETS.get(self.format)


# --- baselines: the seeds, re-implemented step for step -----------------------------------------


def seed002_pack(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Seed 002 (2 or 4 bits): strided slices of the flat values, shifted and ORed, first value
    in the high bits (``lowbit_ref``'s ``order="msb"``)."""
    flat = x.contiguous().view(-1)
    if bits == 2:
        return flat[0::4] << 6 | flat[1::4] << 4 | flat[2::4] << 2 | flat[3::4]
    return flat[0::2] << 4 | flat[1::2]


def seed002_unpack(packed: torch.Tensor, bits: int) -> torch.Tensor:
    """Seed 002: one shifted, masked tensor per slot, stacked along a new last dim."""
    if bits == 2:
        parts = [(packed >> 6) & 0b11, (packed >> 4) & 0b11, (packed >> 2) & 0b11, packed & 0b11]
    else:
        parts = [packed >> 4, packed & 0b1111]
    return torch.stack(parts, dim=-1).view(-1)


_POWERS = (1, 3, 9, 27, 81)


def seed004_pack(trits: torch.Tensor) -> torch.Tensor:
    """Seed 004: digits times powers of three, summed per row of five.

    The seed pads with digit 0 (trit -1, where ``lowbit_ref`` pads with trit 0) and returns the
    int64 sum; the cast to bytes is added so that it produces what it stores.
    """
    digits = (trits + 1).flatten().to(torch.uint8)
    pad = -digits.numel() % 5
    if pad:
        digits = torch.cat([digits, digits.new_zeros(pad)])
    powers = torch.tensor(_POWERS, dtype=torch.uint8, device=trits.device)
    return (digits.view(-1, 5) * powers).sum(dim=1).to(torch.uint8)


def seed004_unpack(packed: torch.Tensor, n: int) -> torch.Tensor:
    """Seed 004: each digit by division and modulo, stacked, flattened, cut to ``n``. (The seed
    returns float32; this returns int8 trits, like ``lowbit_ref``.)"""
    digits = torch.stack([(packed // p) % 3 for p in _POWERS], dim=1).flatten()
    return digits[:n].to(torch.int8) - 1


# --- timing -------------------------------------------------------------------------------------


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _seconds(fn: Callable[[], object], device: torch.device, calls: int = 1) -> float:
    """Wall time of ``calls`` calls of ``fn``, per call (CUDA: between two events)."""
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(calls):
            fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3 / calls
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    _sync(device)
    return (time.perf_counter() - t0) / calls


def _copy_of(nbytes: int, device: torch.device) -> Callable[[], object]:
    """``dst.copy_(src)`` moving ``nbytes`` in all: half read, half written into a preallocated dst."""
    half = max(nbytes // 2, 1)
    src = torch.randint(0, 256, (half,), dtype=torch.uint8, device=device)
    dst = torch.zeros_like(src)  # touched now, so the timed copies never pay for fresh pages
    return lambda: dst.copy_(src)


def _measure(cases: list, device: torch.device, repeat: int, calls: int = 1) -> list[tuple[float, float]]:
    """Best time of each case and of its floor copy, over ``repeat`` interleaved rounds.

    ``cases``: (fn, bytes moved). Rounds alternate floor and case, so both see the same machine.
    """
    copies = {}
    for _, nbytes in cases:
        if nbytes not in copies:
            copies[nbytes] = _copy_of(nbytes, device)
    best = [[math.inf, math.inf] for _ in cases]
    for fn, nbytes in cases:  # warm-up: tables, first touch of internal buffers
        fn()
        copies[nbytes]()
    for _ in range(repeat):
        for k, (fn, nbytes) in enumerate(cases):
            best[k][1] = min(best[k][1], _seconds(copies[nbytes], device, calls))
            best[k][0] = min(best[k][0], _seconds(fn, device, calls))
    return [tuple(b) for b in best]


# --- what is measured ---------------------------------------------------------------------------


def _expect(name: str, got: torch.Tensor, want: torch.Tensor) -> None:
    if got.dtype != want.dtype or got.shape != want.shape or not torch.equal(got, want):
        raise LowbitError(
            f"bench: {name} gave a wrong result (got {got.dtype} {tuple(got.shape)}, "
            f"want {want.dtype} {tuple(want.shape)} with the reference's values)"
        )


def _bit_stream_pack(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Independent reference for a short 1-D prefix: every value's bits, 8 at a time, LSB-first."""
    k = torch.arange(bits, device=x.device)
    stream = ((x.long()[:, None] >> k) & 1).view(-1)  # (n * bits,)
    stream = torch.cat([stream, stream.new_zeros(-stream.numel() % 8)])
    return (stream.view(-1, 8) << torch.arange(8, device=x.device)).sum(1).to(torch.uint8)


def _cases(fmt: str, op: str, n: int, loop_n: int, seeds: bool, device: torch.device, gen: torch.Generator) -> list:
    """(impl, values, fn, bytes moved) for one format and operation; every fn checked once here."""
    cases = []
    if fmt.startswith("uint"):
        bits = int(fmt[4:])
        x = torch.randint(0, 1 << bits, (n,), dtype=torch.uint8, generator=gen).to(device)
        packed = uintx.pack(x, bits)
        prefix = min(n, 8 * 1024)  # whole groups: 8 values always end on a byte boundary
        _expect(f"{fmt} pack (prefix against the bit-stream reference)",
                packed.data[: prefix * bits // 8], _bit_stream_pack(x[:prefix], bits))
        _expect(f"{fmt} unpack", uintx.unpack(packed), x)
        data_out, values_out = torch.empty_like(packed.data), torch.empty_like(x)
        if op == "pack":
            ours = lambda: uintx.pack(x, bits)  # noqa: E731
            into = lambda: uintx.pack(x, bits, out=data_out)  # noqa: E731
            _expect(f"{fmt} pack out=", into().data, packed.data)
        else:
            ours = lambda: uintx.unpack(packed)  # noqa: E731
            into = lambda: uintx.unpack(packed, out=values_out)  # noqa: E731
            _expect(f"{fmt} unpack out=", into(), x)
        moved = x.nbytes + packed.data.nbytes
        cases += [("lowbit_ref", n, ours, moved), ("lowbit_ref out=", n, into, moved)]
        if bits in (2, 4) and seeds:
            msb = uintx.pack(x, bits, order="msb").data
            if op == "pack":
                _expect(f"seed 002 {fmt} pack", seed002_pack(x, bits), msb)
                cases.append(("seed 002", n, lambda: seed002_pack(x, bits), moved))
            else:
                _expect(f"seed 002 {fmt} unpack", seed002_unpack(msb, bits), x)
                cases.append(("seed 002", n, lambda: seed002_unpack(msb, bits), moved))
        if bits in loop.WIDTHS and loop_n:
            xs = x[:loop_n].cpu()
            ps = uintx.pack(xs, bits).data
            if op == "pack":
                _expect(f"loop {fmt} pack", loop.pack_weights(xs, bits), ps)
                cases.append(("loop", loop_n, lambda: loop.pack_weights(xs, bits), xs.nbytes + ps.nbytes))
            else:
                _expect(f"loop {fmt} unpack", loop.unpack_weights(ps, bits), xs)
                cases.append(("loop", loop_n, lambda: loop.unpack_weights(ps, bits), xs.nbytes + ps.nbytes))
        return cases

    t = torch.randint(-1, 2, (n,), dtype=torch.int8, generator=gen).to(device)
    packer = base3.pack_base3 if fmt == "base3" else ternary.pack_ternary
    packed = packer(t)
    if fmt == "base3":
        full = n // 5
        want = base3.pack_base3_powers(t).data
    else:
        want = uintx.pack((t + 1).view(torch.uint8), 2).data
    _expect(f"{fmt} pack", packed.data, want)
    _expect(f"{fmt} unpack", uintx.unpack(packed), t)
    data_out, trits_out = torch.empty_like(packed.data), torch.empty_like(t)
    moved = t.nbytes + packed.data.nbytes
    if op == "pack":
        ours = lambda: packer(t)  # noqa: E731
        into = lambda: packer(t, out=data_out)  # noqa: E731
        _expect(f"{fmt} pack out=", into().data, packed.data)
    else:
        ours = lambda: uintx.unpack(packed)  # noqa: E731
        into = lambda: uintx.unpack(packed, out=trits_out)  # noqa: E731
        _expect(f"{fmt} unpack out=", into(), t)
    cases += [("lowbit_ref", n, ours, moved), ("lowbit_ref out=", n, into, moved)]
    if fmt == "base3" and seeds:
        if op == "pack":
            _expect("seed 004 pack", seed004_pack(t)[:full], packed.data[:full])
            cases.append(("seed 004", n, lambda: seed004_pack(t), moved))
        else:
            _expect("seed 004 unpack", seed004_unpack(packed.data, n), t)
            cases.append(("seed 004", n, lambda: seed004_unpack(packed.data, n), moved))
    return cases


def run(
    *,
    log2_size: int = 26,
    loop_log2_size: int = 16,
    repeat: int = 5,
    formats: tuple[str, ...] = FORMATS,
    seeds: bool = True,
    device: str | torch.device = "cpu",
    threads: int | None = 1,
    progress: Callable[[str], None] | None = None,
) -> list[Row]:
    """Measure every format in ``formats``; returns one ``Row`` per implementation and operation.

    ``threads`` sets ``torch.set_num_threads`` for the run (None: leave it), and is restored.
    ``loop_log2_size=0`` leaves the loop out; ``seeds=False`` the seed baselines.
    """
    device = torch.device(device)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise LowbitError(f"formats must be some of {FORMATS}, got {unknown}")
    saved = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    rows = []
    try:
        for fmt in formats:
            for op in OPS:
                if progress:
                    progress(f"{fmt} {op}")
                loop_n = (1 << loop_log2_size) if loop_log2_size else 0
                cases = _cases(fmt, op, 1 << log2_size, loop_n, seeds, device, gen)
                timed = [(fn, moved) for _, _, fn, moved in cases]
                slow = [k for k, c in enumerate(cases) if c[0] == "loop"]
                fast = [k for k in range(len(cases)) if k not in slow]
                best = dict(zip(fast, _measure([timed[k] for k in fast], device, repeat)))
                best.update(zip(slow, _measure([timed[k] for k in slow], device, min(repeat, 2))))
                for k, (impl, values, _, moved) in enumerate(cases):
                    rows.append(Row(device.type, fmt, op, impl, values, moved, *best[k]))
    finally:
        torch.set_num_threads(saved)
    return rows


# --- GPU: Triton kernels against a device-to-device copy ------------------------------------------


def run_kernels(*, log2_size: int = 26, repeat: int = 5, device: str | torch.device = "cuda",
                calls: int | None = None) -> list[Row]:
    """``unpack_triton`` and ``matvec_packed`` against a copy of the same bytes on ``device``.

    Unpack: 2**log2_size values at 1, 2, 4 bits and ternary2 (read the packed bytes, write uint8
    or int8 values). Matvec: W of 2**log2_size weights, square, packed along its rows, fp16
    scales per group of 128 and fp16 x, y (read W, scales and x, write y); beside it the same
    product by ``matvec_reference`` (unpack, dequantize, ``@``). Every result is checked first.
    On the CPU this runs under the Triton interpreter (``TRITON_INTERPRET=1``): correct, slow.
    """
    from . import kernels

    device = torch.device(device)
    calls = calls or (20 if device.type == "cuda" else 1)
    gen = torch.Generator().manual_seed(0)
    n = 1 << log2_size
    rows, cases = [], []
    for fmt in ("uint1", "uint2", "uint4", "ternary2"):
        if fmt == "ternary2":
            x = torch.randint(-1, 2, (n,), dtype=torch.int8, generator=gen).to(device)
            packed = ternary.pack_ternary(x)
        else:
            x = torch.randint(0, 1 << int(fmt[4:]), (n,), dtype=torch.uint8, generator=gen).to(device)
            packed = uintx.pack(x, int(fmt[4:]))
        _expect(f"unpack_triton {fmt}", kernels.unpack_triton(packed), x)
        moved = packed.data.nbytes + x.nbytes
        cases.append((fmt, "unpack", "unpack_triton", n, lambda p=packed: kernels.unpack_triton(p), moved))
        cases.append((fmt, "unpack", "lowbit_ref (torch)", n, lambda p=packed: uintx.unpack(p), moved))
    side = 1 << (log2_size // 2)
    rows_w, cols_w = side, n // side  # (out_features, in_features)
    group = min(128, cols_w)
    xv = torch.randn(cols_w, generator=gen).half().to(device)
    for fmt in ("uint2", "uint4", "ternary2"):
        if fmt == "ternary2":
            w = torch.randint(-1, 2, (rows_w, cols_w), dtype=torch.int8, generator=gen).to(device)
            packed = ternary.pack_ternary(w)
        else:
            w = torch.randint(0, 1 << int(fmt[4:]), (rows_w, cols_w), dtype=torch.uint8, generator=gen).to(device)
            packed = uintx.pack(w, int(fmt[4:]))
        scale = (torch.rand(rows_w, -(-cols_w // group), generator=gen) / 64).half().to(device)
        args = dict(group_size=group)
        y = kernels.matvec_packed(packed, scale, xv, **args)
        want = kernels.matvec_reference(packed, scale, xv, **args)
        if not torch.allclose(y.float(), want.float(), rtol=2e-2, atol=2e-2 * float(want.float().abs().max()) + 1e-3):
            raise LowbitError(f"bench: matvec_packed {fmt} disagrees with matvec_reference")
        moved = packed.data.nbytes + scale.nbytes + xv.nbytes + y.nbytes
        fused = lambda p=packed, s=scale: kernels.matvec_packed(p, s, xv, **args)  # noqa: E731
        plain = lambda p=packed, s=scale: kernels.matvec_reference(p, s, xv, **args)  # noqa: E731
        cases.append((fmt, "matvec", "matvec_packed", n, fused, moved))
        cases.append((fmt, "matvec", "matvec_reference", n, plain, moved))
    best = _measure([(c[4], c[5]) for c in cases], device, repeat, calls)
    for (fmt, op, impl, values, _, moved), (seconds, floor) in zip(cases, best):
        rows.append(Row(device.type, fmt, op, impl, values, moved, seconds, floor))
    return rows


# --- reporting ----------------------------------------------------------------------------------


def _size(n: int) -> str:
    return f"2**{n.bit_length() - 1}" if n & (n - 1) == 0 else str(n)


def table(rows: list[Row]) -> str:
    """The rows as a plain-text table (also valid Markdown)."""
    head = ["format", "op", "implementation", "values", "MiB moved", "ms", "GB/s", "copy GB/s", "x floor", "target"]
    lines = []
    for r in rows:
        target = "" if r.target is None else f"<= {r.target:g}: {'met' if r.ratio <= r.target else 'MISSED'}"
        lines.append([r.format, r.op, r.impl, _size(r.values), f"{r.bytes_moved / 2**20:.1f}",
                      f"{r.seconds * 1e3:.3g}", f"{r.gbps:.2f}", f"{r.floor_gbps:.2f}", f"{r.ratio:.3g}", target])
    widths = [max(len(h), *(len(line[k]) for line in lines)) if lines else len(h) for k, h in enumerate(head)]
    fmt = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([fmt(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(fmt, lines)])


def write_csv(rows: list[Row], path) -> None:
    """One line per row: every field, plus gbps, floor_gbps (the copy's), ratio and target."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*Row.__dataclass_fields__, "gbps", "floor_gbps", "ratio", "target"])
        for r in rows:
            writer.writerow([*asdict(r).values(), f"{r.gbps:.4g}", f"{r.floor_gbps:.4g}", f"{r.ratio:.4g}",
                             "" if r.target is None else r.target])


def plot(rows: list[Row], *, title: str | None = None):
    """Time / memory floor of every row, one bar per implementation, log scale; targets in red.

    Returns the matplotlib figure (for the lessons; ``--plot PATH`` saves it).
    """
    import matplotlib.pyplot as plt

    groups = list(dict.fromkeys((r.format, r.op) for r in rows))
    impls = list(dict.fromkeys(r.impl for r in rows))
    colours = dict(zip(impls, ["#1b6ca8", "#7fb3dd", "#e07b39", "#9a9a9a", "#7a4fa3", "#3a9e5c", "#c9a227"]))
    most = max(sum((r.format, r.op) == key for r in rows) for key in groups)
    height = 0.8 / most
    fig, ax = plt.subplots(figsize=(7.5, 0.22 * len(rows) + 1.5))
    labelled = set()
    for g, key in enumerate(groups):
        present = [r for r in rows if (r.format, r.op) == key]
        for k, row in enumerate(present):
            y = g + (k - (len(present) - 1) / 2) * height
            label = f"{row.impl} ({_size(row.values)} values)"
            ax.barh(y, row.ratio, height=height * 0.9, color=colours[row.impl],
                    label=None if label in labelled else label)
            labelled.add(label)
            if row.target is not None:
                ax.plot([row.target] * 2, [y - height / 2, y + height / 2], color="#c0392b", lw=2.5,
                        label=None if "target" in labelled else "target (2**26 values)")
                labelled.add("target")
    ax.axvline(1, color="#333", lw=1)
    ax.set_xscale("log")
    ax.set_yticks(range(len(groups)), [f"{f} {op}" for f, op in groups])
    ax.invert_yaxis()
    ax.set_xlabel("time / memory floor (1 = as fast as a copy of the same bytes)")
    ax.set_title(title or f"{rows[0].device}: time against the copy floor")
    ax.grid(True, axis="x", which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lowbit_ref.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--log2-size", type=int, default=26, help="values per operation: 2**N (default 26)")
    parser.add_argument("--loop-log2-size", type=int, default=16, help="values for the Python loop: 2**N (0: skip)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds; the best of them counts (default 5)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--formats", default=",".join(FORMATS),
                        help=f"comma-separated, from {','.join(FORMATS)}; also tq2_0,tq1_0 (lowbit_ref.bench_formats)")
    parser.add_argument("--no-seeds", action="store_true", help="leave the seed baselines out")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda for the Triton kernels")
    parser.add_argument("--csv", help="also write the rows to this CSV file")
    parser.add_argument("--plot", help="also save a bar chart of time / floor to this image file")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes, one round: checks every result, times nothing that matters")
    args = parser.parse_args(argv)
    if args.smoke:
        args.log2_size, args.loop_log2_size, args.repeat = 12, 8, 1
    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())

    if args.device.startswith("cuda"):
        if not torch.cuda.is_available():
            print("lowbit_ref.bench: CUDA is not available here; skipping the GPU benchmark "
                  "(run it on a machine with an NVIDIA GPU and Triton).")
            return 0
        from . import kernels

        if not kernels.triton_available() or kernels.interpreter_active():
            why = "Triton is not installed" if not kernels.triton_available() else "TRITON_INTERPRET=1 is set"
            print(f"lowbit_ref.bench: {why}; skipping the GPU benchmark ({kernels.INSTALL_HINT}).")
            return 0
        print(f"lowbit_ref.bench: {torch.cuda.get_device_name(args.device)}, 2**{args.log2_size} values, "
              f"best of {args.repeat} rounds of 20 calls; floor = device-to-device copy of the same bytes")
        rows = run_kernels(log2_size=args.log2_size, repeat=args.repeat, device=args.device)
    else:
        print(f"lowbit_ref.bench: CPU, {args.threads} thread(s), 2**{args.log2_size} values "
              f"(loop: 2**{args.loop_log2_size}), best of {args.repeat}; torch {torch.__version__}"
              + (" [smoke: correctness only]" if args.smoke else ""))
        from . import bench_formats  # llama.cpp's block formats: rows of their own module

        wild = tuple(f for f in formats if f in bench_formats.FORMATS)
        formats = tuple(f for f in formats if f not in bench_formats.FORMATS)
        progress = lambda s: print(f"  measuring {s} ...", file=sys.stderr, flush=True)  # noqa: E731
        rows = run(log2_size=args.log2_size, loop_log2_size=args.loop_log2_size, repeat=args.repeat,
                   formats=formats, seeds=not args.no_seeds, device=args.device, threads=args.threads,
                   progress=progress) if formats else []
        if wild:
            rows += bench_formats.run(log2_size=args.log2_size, repeat=args.repeat, formats=wild,
                                      threads=args.threads, progress=progress)
    print(table(rows))
    copies = [r.floor_gbps for r in rows if r.values == 1 << args.log2_size]
    if copies:
        print(f"copy bandwidth (dst.copy_(src), preallocated, same bytes as each row): "
              f"{min(copies):.2f} .. {max(copies):.2f} GB/s")
    if args.csv:
        write_csv(rows, args.csv)
        print(f"wrote {args.csv}")
    if args.plot:
        plot(rows).savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
