"""Throughput of every packing format against a plain copy of the same bytes.

    python -m lowbit_ref.bench                          # CPU, one thread, 2**26 values, best of 5
    python -m lowbit_ref.bench --log2-size 24 --csv bench.csv --plot bench.png
    python -m lowbit_ref.bench --smoke                  # tiny sizes, correctness only (make test runs it)
    python -m lowbit_ref.bench --device cuda            # Triton unpack and fused matvec against a device copy

For pack and unpack of 1, 2, 3, 4-bit "uint", 2-bit ternary and base-3 it prints the time, the
bandwidth and the ratio to the memory floor, for ``lowbit_ref`` writing a new tensor (as a
notebook calls it) and into a preallocated ``out=`` buffer; beside them, at the same size, two
textbook baselines ("strided slices": one shifted strided slice per slot, first value in the high
bits; "divmod": base-3 digits by division and modulo) and, at a smaller size, the Python loop of
``lowbit_ref.loop``. Every result is checked before it is timed (the bit-stream packers against
``lowbit_ref.bitstream``, the tests' oracle too); a wrong one stops the benchmark with an error.

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
['loop', 'lowbit_ref', 'lowbit_ref out=', 'strided slices']
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable

import torch

from . import base3, bench_formats, bitstream, loop, ternary, uintx
from .bench_common import TARGET_VALUES, TARGETS, Row, expect, measure, plot, table, torch_threads, write_csv  # noqa: F401
from .errors import LowbitError

#: Formats measured on the CPU, in table order.
FORMATS = ("uint1", "uint2", "uint3", "uint4", "ternary2", "base3")
OPS = ("pack", "unpack")


# --- baselines: the textbook versions ------------------------------------------------------------


def strided_pack(x: torch.Tensor, bits: int) -> torch.Tensor:
    """2 or 4 bits: strided slices of the flat values, shifted and ORed, first value
    in the high bits (``lowbit_ref``'s ``order="msb"``)."""
    flat = x.contiguous().view(-1)
    if bits == 2:
        return flat[0::4] << 6 | flat[1::4] << 4 | flat[2::4] << 2 | flat[3::4]
    return flat[0::2] << 4 | flat[1::2]


def strided_unpack(packed: torch.Tensor, bits: int) -> torch.Tensor:
    """Undo ``strided_pack``: one shifted, masked tensor per slot, stacked along a new last dim."""
    if bits == 2:
        parts = [(packed >> 6) & 0b11, (packed >> 4) & 0b11, (packed >> 2) & 0b11, packed & 0b11]
    else:
        parts = [packed >> 4, packed & 0b1111]
    return torch.stack(parts, dim=-1).view(-1)


_POWERS = (1, 3, 9, 27, 81)


def divmod_pack(trits: torch.Tensor) -> torch.Tensor:
    """Digits times powers of three, summed per row of five, cast to bytes.

    It pads with digit 0 (trit -1, where ``lowbit_ref`` pads with trit 0): only whole bytes agree.
    """
    digits = (trits + 1).flatten().to(torch.uint8)
    pad = -digits.numel() % 5
    if pad:
        digits = torch.cat([digits, digits.new_zeros(pad)])
    powers = torch.tensor(_POWERS, dtype=torch.uint8, device=trits.device)
    return (digits.view(-1, 5) * powers).sum(dim=1).to(torch.uint8)


def divmod_unpack(packed: torch.Tensor, n: int) -> torch.Tensor:
    """Each digit by division and modulo, stacked, flattened, cut to ``n``: int8 trits."""
    digits = torch.stack([(packed // p) % 3 for p in _POWERS], dim=1).flatten()
    return digits[:n].to(torch.int8) - 1


def _cases(fmt: str, op: str, n: int, loop_n: int, baselines: bool, device: torch.device, gen: torch.Generator) -> list:
    """(impl, values, fn, bytes moved) for one format and operation; every fn checked once here."""
    cases = []
    if fmt.startswith("uint"):
        bits = int(fmt[4:])
        x = torch.randint(0, 1 << bits, (n,), dtype=torch.uint8, generator=gen).to(device)
        packed = uintx.pack(x, bits)
        prefix = min(n, 8 * 1024)  # whole groups: 8 values always end on a byte boundary
        expect(f"{fmt} pack (prefix against the bit-stream oracle)",
               packed.data[: prefix * bits // 8], bitstream.stream_pack_reference(x[:prefix], bits))
        expect(f"{fmt} unpack", uintx.unpack(packed), x)
        data_out, values_out = torch.empty_like(packed.data), torch.empty_like(x)
        if op == "pack":
            ours = lambda: uintx.pack(x, bits)  # noqa: E731
            into = lambda: uintx.pack(x, bits, out=data_out)  # noqa: E731
            expect(f"{fmt} pack out=", into().data, packed.data)
        else:
            ours = lambda: uintx.unpack(packed)  # noqa: E731
            into = lambda: uintx.unpack(packed, out=values_out)  # noqa: E731
            expect(f"{fmt} unpack out=", into(), x)
        moved = x.nbytes + packed.data.nbytes
        cases += [("lowbit_ref", n, ours, moved), ("lowbit_ref out=", n, into, moved)]
        if bits in (2, 4) and baselines:
            msb = uintx.pack(x, bits, order="msb").data
            if op == "pack":
                expect(f"strided slices {fmt} pack", strided_pack(x, bits), msb)
                cases.append(("strided slices", n, lambda: strided_pack(x, bits), moved))
            else:
                expect(f"strided slices {fmt} unpack", strided_unpack(msb, bits), x)
                cases.append(("strided slices", n, lambda: strided_unpack(msb, bits), moved))
        if bits in loop.WIDTHS and loop_n:
            xs = x[:loop_n].cpu()
            ps = uintx.pack(xs, bits).data
            if op == "pack":
                expect(f"loop {fmt} pack", loop.pack_weights(xs, bits), ps)
                cases.append(("loop", loop_n, lambda: loop.pack_weights(xs, bits), xs.nbytes + ps.nbytes))
            else:
                expect(f"loop {fmt} unpack", loop.unpack_weights(ps, bits), xs)
                cases.append(("loop", loop_n, lambda: loop.unpack_weights(ps, bits), xs.nbytes + ps.nbytes))
        return cases

    t = torch.randint(-1, 2, (n,), dtype=torch.int8, generator=gen).to(device)
    packer = base3.pack_base3 if fmt == "base3" else ternary.pack_ternary
    packed = packer(t)
    if fmt == "base3":
        full = n // 5
        expect(f"{fmt} pack", packed.data, base3.pack_base3_powers(t).data)
    else:
        prefix = min(n, 8 * 1024)  # whole bytes: 4 trits each
        expect(f"{fmt} pack (prefix against the bit-stream oracle)", packed.data[: prefix // 4],
               bitstream.stream_pack_reference(t[:prefix], 2, offset=1))
    expect(f"{fmt} unpack", uintx.unpack(packed), t)
    data_out, trits_out = torch.empty_like(packed.data), torch.empty_like(t)
    moved = t.nbytes + packed.data.nbytes
    if op == "pack":
        ours = lambda: packer(t)  # noqa: E731
        into = lambda: packer(t, out=data_out)  # noqa: E731
        expect(f"{fmt} pack out=", into().data, packed.data)
    else:
        ours = lambda: uintx.unpack(packed)  # noqa: E731
        into = lambda: uintx.unpack(packed, out=trits_out)  # noqa: E731
        expect(f"{fmt} unpack out=", into(), t)
    cases += [("lowbit_ref", n, ours, moved), ("lowbit_ref out=", n, into, moved)]
    if fmt == "base3" and baselines:
        if op == "pack":
            expect("divmod pack", divmod_pack(t)[:full], packed.data[:full])
            cases.append(("divmod", n, lambda: divmod_pack(t), moved))
        else:
            expect("divmod unpack", divmod_unpack(packed.data, n), t)
            cases.append(("divmod", n, lambda: divmod_unpack(packed.data, n), moved))
    return cases


def run(
    *,
    log2_size: int = 26,
    loop_log2_size: int = 16,
    repeat: int = 5,
    formats: tuple[str, ...] = FORMATS,
    baselines: bool = True,
    device: str | torch.device = "cpu",
    threads: int | None = 1,
    progress: Callable[[str], None] | None = None,
) -> list[Row]:
    """Measure every format in ``formats``; returns one ``Row`` per implementation and operation.

    ``threads`` sets ``torch.set_num_threads`` for the run (None: leave it), and is restored.
    ``loop_log2_size=0`` leaves the loop out; ``baselines=False`` the textbook baselines.
    """
    device = torch.device(device)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise LowbitError(f"formats must be some of {FORMATS}, got {unknown}")
    gen = torch.Generator().manual_seed(0)
    rows = []
    with torch_threads(threads):
        for fmt in formats:
            for op in OPS:
                if progress:
                    progress(f"{fmt} {op}")
                loop_n = (1 << loop_log2_size) if loop_log2_size else 0
                cases = _cases(fmt, op, 1 << log2_size, loop_n, baselines, device, gen)
                timed = [(fn, moved) for _, _, fn, moved in cases]
                slow = [k for k, c in enumerate(cases) if c[0] == "loop"]
                fast = [k for k in range(len(cases)) if k not in slow]
                best = dict(zip(fast, measure([timed[k] for k in fast], device, repeat)))
                best.update(zip(slow, measure([timed[k] for k in slow], device, min(repeat, 2))))
                for k, (impl, values, _, moved) in enumerate(cases):
                    rows.append(Row(device.type, fmt, op, impl, values, moved, *best[k]))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lowbit_ref.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--log2-size", type=int, default=26, help="values per operation: 2**N (default 26)")
    parser.add_argument("--loop-log2-size", type=int, default=16, help="values for the Python loop: 2**N (0: skip)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds; the best of them counts (default 5)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--formats", default=",".join(FORMATS),
                        help=f"comma-separated, from {','.join(FORMATS)}; also tq2_0,tq1_0 (lowbit_ref.bench_formats)")
    parser.add_argument("--no-baselines", action="store_true", help="leave the textbook baselines out")
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
        from . import bench_gpu  # imports Triton, which only a GPU run needs

        kernels = bench_gpu.kernels
        if not kernels.triton_available() or kernels.interpreter_active():
            why = "Triton is not installed" if not kernels.triton_available() else "TRITON_INTERPRET=1 is set"
            print(f"lowbit_ref.bench: {why}; skipping the GPU benchmark ({kernels.INSTALL_HINT}).")
            return 0
        print(f"lowbit_ref.bench: {torch.cuda.get_device_name(args.device)}, 2**{args.log2_size} values, "
              f"best of {args.repeat} rounds of 20 calls; floor = device-to-device copy of the same bytes")
        rows = bench_gpu.run_kernels(log2_size=args.log2_size, repeat=args.repeat, device=args.device)
    else:
        print(f"lowbit_ref.bench: CPU, {args.threads} thread(s), 2**{args.log2_size} values "
              f"(loop: 2**{args.loop_log2_size}), best of {args.repeat}; torch {torch.__version__}"
              + (" [smoke: correctness only]" if args.smoke else ""))
        wild = tuple(f for f in formats if f in bench_formats.FORMATS)
        formats = tuple(f for f in formats if f not in bench_formats.FORMATS)
        progress = lambda s: print(f"  measuring {s} ...", file=sys.stderr, flush=True)  # noqa: E731
        rows = run(log2_size=args.log2_size, loop_log2_size=args.loop_log2_size, repeat=args.repeat,
                   formats=formats, baselines=not args.no_baselines, device=args.device, threads=args.threads,
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
