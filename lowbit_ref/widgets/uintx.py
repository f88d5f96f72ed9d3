"""Lesson 02's views: where each input value lands in the packed bytes, and loop vs vectorized timing.

The layout viewer never works out a layout itself: the bytes come from ``lowbit_ref.uintx.pack``
and the owner of every bit from ``lowbit_ref.uintx.bit_layout`` (tests check the two agree, by
packing one value at a time), so the picture is always the library's layout.
"""

from __future__ import annotations

import html
import re

import ipywidgets as W
import matplotlib.pyplot as plt
import torch
from IPython.display import HTML

from ..errors import LowbitError
from ..uintx import bit_layout, pack
from ._draw import PALETTE, bit_row, compare_html, grading, table

MAX_VALUES = 16  # more than this and the table no longer fits a notebook column

# --- who owns which bit ----------------------------------------------------------------------


def bit_owners(n: int, bits: int, order: str = "lsb") -> list[list[tuple[int, int] | None]]:
    """For ``n`` values packed at ``bits``: per packed byte, per bit position 0..7, the pair
    ``(value index, bit of that value)`` stored there, or None for a padding bit.

    The repeating group comes from ``uintx.bit_layout``; this only numbers the groups and marks
    the bits past the last value as padding.

    >>> bit_owners(4, 2)[0][:4]  # bits 0..3 of byte 0: value 0's bits 0 and 1, then value 1's
    [(0, 0), (0, 1), (1, 0), (1, 1)]
    """
    group = bit_layout(bits, order)  # per byte of a group: (value, value bit) for bits 7..0
    per_group = 8 // bits if 8 % bits == 0 else 8
    nbytes = -(-n * bits // 8)
    owners = []
    for b in range(nbytes):
        g, m = divmod(b, len(group))
        by_position = []
        for position in range(8):
            j, q = group[m][7 - position]
            i = g * per_group + j
            by_position.append((i, q) if i < n else None)
        owners.append(by_position)
    return owners


# --- layout viewer ---------------------------------------------------------------------------


def _parse(text: str) -> list[int]:
    items = [s for s in re.split(r"[,\s]+", text.strip()) if s]
    if not items or len(items) > MAX_VALUES:
        raise LowbitError(f"values: give 1 to {MAX_VALUES} integers separated by commas, got {len(items)}")
    try:
        values = [int(s, 0) for s in items]  # base 0: 0b101 and 0x1f work too
    except ValueError:
        raise LowbitError(f"values must be integers separated by commas, got {text!r}") from None
    return values


def _chip(i: int, value: int, bits: int) -> str:
    colour = PALETTE[i % len(PALETTE)]
    return (
        f"<span style='background:{colour};padding:1px 6px;margin:2px;border-radius:3px;display:inline-block;"
        f"white-space:nowrap;font-family:monospace;color:#000'>value {i} = {value} = {value:0{bits}b}</span>"
    )


def _bit_range(first: int, last: int) -> str:
    return f"bit {first}" if first == last else f"bits {first}&ndash;{last}"


def _pieces(owners: list[list[tuple[int, int] | None]], i: int) -> list[str]:
    """Where value ``i`` lives, one entry per byte: 'its bits 0-1 in bits 6-7 of byte 0'."""
    where = []
    for b, byte in enumerate(owners):
        mine = [(p, o[1]) for p, o in enumerate(byte) if o is not None and o[0] == i]
        if mine:
            positions, value_bits = [p for p, _ in mine], [q for _, q in mine]
            where.append(
                f"its {_bit_range(min(value_bits), max(value_bits))} in "
                f"{_bit_range(min(positions), max(positions))} of byte {b}"
            )
    return where


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def layout_html(values, bits: int, order: str = "lsb", yours=None) -> str:
    """The packed bytes of ``values`` with every bit coloured by the value it holds; with
    ``yours`` (the student's ``pack_bits(values, bits)``, LSB-first), its bytes for the same values
    beside the reference's, differing bits marked."""
    try:
        values = _parse(values) if isinstance(values, str) else [int(v) for v in values]
        if not values or len(values) > MAX_VALUES:
            raise LowbitError(f"values: give 1 to {MAX_VALUES} integers, got {len(values)}")
        if any(not 0 <= v <= 255 for v in values):
            raise LowbitError(f"values must be in 0..255 (bytes at most), got {values}")
        packed = pack(torch.tensor(values, dtype=torch.uint8), bits, order=order)
    except LowbitError as error:
        return f"<div class='lowbit-note' style='color:#b00'>{html.escape(str(error))}</div>"

    owners = bit_owners(len(values), bits, order)
    rows = [
        bit_row(byte, [None if o is None else o[0] for o in owners[b]], f"byte {b}")
        for b, byte in enumerate(packed.data.tolist())
    ]
    chips = "".join(_chip(i, v, bits) for i, v in enumerate(values))
    n_bits = len(values) * bits
    padding = 8 * len(rows) - n_bits
    first = "lowest" if order == "lsb" else "highest"
    notes = [
        f"{_count(len(values), 'value')} &times; {_count(bits, 'bit')} = {_count(n_bits, 'bit')} "
        f"&rarr; {_count(len(rows), 'byte')}; <b>{order}</b>-first: value 0 sits in the {first} bits of byte 0.",
    ]
    for i in range(len(values)):
        where = _pieces(owners, i)
        if len(where) > 1:
            notes.append(f"value {i} is split across two bytes: {' and '.join(where)}.")
    if padding:
        notes.append(f"{_count(padding, 'padding bit')} (grey) fill{'s' if padding == 1 else ''} up the last byte; always 0.")
    mine = ""
    if yours is not None:
        if order == "lsb":
            name = getattr(yours, "__name__", "function")
            mine = compare_html(name, yours, (torch.tensor(values, dtype=torch.uint8), bits), packed.data.tolist())
        else:
            mine = "<div class='lowbit-note'>Your function packs LSB-first: switch the order back to compare.</div>"
    return (
        f"<div>{chips}</div>"
        + table(rows)
        + "".join(f"<div class='lowbit-note'>{note}</div>" for note in notes)
        + mine
    )


def layout_viewer(values=(1, 0, 3, 2), bits: int = 2, order: str = "lsb", yours=None):
    """Which input value lands in which bits of the packed bytes, colour-coded, for any width
    1..8 and both bit orders. Controls: the values (comma-separated), a width slider and an
    order toggle. Values that do not fit the width show lowbit_ref's error instead of a picture.
    ``yours``: the student's ``pack_bits(values, bits)``, drawn beside the reference (see layout_html).
    """
    text = ", ".join(str(int(v)) for v in values)
    if grading():
        return HTML(layout_html(text, bits, order, yours))

    values_box = W.Text(value=text, description="values", continuous_update=False, layout=W.Layout(width="320px"))
    width = W.IntSlider(value=bits, min=1, max=8, description="bits", continuous_update=True)
    order_toggle = W.ToggleButtons(options=[("LSB-first", "lsb"), ("MSB-first", "msb")], value=order)
    out = W.HTML(layout_html(text, bits, order, yours))

    def redraw(_change=None):
        out.value = layout_html(values_box.value, width.value, order_toggle.value, yours)

    for control in (values_box, width, order_toggle):
        control.observe(redraw, names="value")
    return W.VBox([W.HBox([values_box, width]), order_toggle, out])


# --- timing plot -----------------------------------------------------------------------------


def timing_plot(series: dict, title: str = "Packing time, 2 bits per value"):
    """Log-log plot of seconds against number of values, one line per ``label: (sizes, seconds)``.

    The measurements are the caller's (the notebook times the student's own functions); this
    only draws them, and notes the speed-up at the largest size two lines share.
    """
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for k, (label, (sizes, seconds)) in enumerate(series.items()):
        if len(sizes) != len(seconds):
            raise LowbitError(f"series {label!r}: {len(sizes)} sizes but {len(seconds)} timings")
        ax.loglog(sizes, seconds, "o-", color=PALETTE[(4, 5, 2, 6)[k % 4]], label=label)
    timed = [dict(zip(sizes, seconds)) for sizes, seconds in series.values()]
    if len(timed) >= 2:
        shared = sorted(set(timed[0]) & set(timed[1]))
        if shared:
            n = shared[-1]
            ratio = timed[0][n] / timed[1][n]
            ax.annotate(
                f"{ratio:,.0f}x at {n:,} values",
                xy=(n, timed[1][n]),
                xytext=(n, (timed[0][n] * timed[1][n]) ** 0.5),
                ha="center",
                arrowprops={"arrowstyle": "->", "color": "#555"},
            )
    ax.set_xlabel("values packed")
    ax.set_ylabel("seconds (best of several runs)")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    plt.close(fig)  # shown once, by the notebook's display of the returned figure
    return fig
