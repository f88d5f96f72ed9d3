"""Lesson 04's views: a byte <-> five-trit viewer, and the size / speed chart of 2-bit vs base 3.

The viewer asks ``lowbit_ref.base3`` for every number it shows (the byte of five trits, the
trits of a byte) and ``lowbit_ref.ternary`` for the 2-bit bytes it draws beside them.
"""

from __future__ import annotations

import html
import math

import ipywidgets as W
import matplotlib.pyplot as plt
import torch
from IPython.display import HTML

from ..base3 import POWERS, pack_base3, unpack_base3
from ..errors import LowbitError
from ..packed import PackedTensor
from ..ternary import pack_ternary
from ._draw import PALETTE, bit_row, compare_html, grading, table

# --- the numbers, all from the library -----------------------------------------------------------


def _byte_of(trits: list[int]) -> int:
    return int(pack_base3(torch.tensor(trits, dtype=torch.int8)).data[0])


def _trits_of(byte: int) -> list[int]:
    one = PackedTensor(torch.tensor([byte], dtype=torch.uint8), 2, (5,), 0, "lsb", "base3", torch.int8)
    return unpack_base3(one).tolist()


def _two_bit_bytes(trits: list[int]) -> list[int]:
    return pack_ternary(torch.tensor(trits, dtype=torch.int8)).data.tolist()


def _start(start) -> list[int]:
    """Five trits from ``start``: five values in -1..1, or a byte 0..242."""
    if isinstance(start, int) and not isinstance(start, bool):
        if not 0 <= start <= 242:
            raise LowbitError(f"start must be a byte in 0..242 (3**5 = 243 values) or five trits, got {start}")
        return _trits_of(start)
    values = list(start)
    if len(values) != 5 or any(v not in (-1, 0, 1) or isinstance(v, bool) for v in values):
        raise LowbitError(f"start must be five trits, each -1, 0 or 1, or a byte in 0..242, got {values!r}")
    return [int(v) for v in values]


# --- the drawing ---------------------------------------------------------------------------------

_SIGN = {-1: "\u22121", 0: "0", 1: "+1"}


def _viewer_html(trits: list[int], yours=None) -> str:
    byte = _byte_of(trits)
    digits = [t + 1 for t in trits]
    head = "".join(f"<th style='text-align:center'>t{i}</th>" for i in range(5))
    rows = [
        ("trit", [_SIGN[t] for t in trits]),
        ("digit = trit + 1", digits),
        ("power of 3", POWERS),
        ("digit \u00d7 power", [d * p for d, p in zip(digits, POWERS)]),
    ]
    body = "".join(
        f"<tr><th>{html.escape(label)}</th>"
        + "".join(f"<td style='background:{PALETTE[i]}'>{v}</td>" for i, v in enumerate(values))
        + "</tr>"
        for label, values in rows
    )
    terms = " + ".join(f"{d}\u00b7{p}" for d, p in zip(digits, POWERS))
    digit_table = f"<table class='lowbit-bits'><tr><th></th>{head}</tr>{body}</table>"

    # Base 3: the byte is one number, so no bit belongs to one trit (grey).
    base3_rows = [bit_row(byte, [None] * 8, "base-3 byte", "all five trits")]
    # 2-bit: trit i owns bits 2i, 2i+1 of its byte; the fifth trit needs a second byte.
    two = _two_bit_bytes(trits)
    owners = [[(4 * k + p // 2) if 4 * k + p // 2 < 5 else None for p in range(8)] for k in range(len(two))]
    spans = ["trits 0..3", "trit 4"]
    two_rows = [bit_row(b, o, f"2-bit byte {k}", spans[k]) for k, (b, o) in enumerate(zip(two, owners))]
    return (
        digit_table
        + f"<div class='lowbit-note'>byte = {terms} = <b>{byte}</b> = 0b{byte:08b}</div>"
        + table(base3_rows + two_rows)
        + "<div class='lowbit-note'>Base 3 keeps the five trits in <b>1</b> byte, but no bit belongs to a "
        f"single trit: change one trit and several bits flip. 2-bit packing gives each trit its own two bits "
        f"(same colours as above) and needs <b>{len(two)}</b> bytes.</div>"
        + ("" if yours is None else compare_html(getattr(yours, "__name__", "function"), yours,
                                                 (torch.tensor(trits, dtype=torch.int8),), [byte]))
    )


def trit_byte_viewer(start=(1, 0, -1, -1, 1), yours=None):
    """Five trit selectors and a byte slider (0..242), kept in step: the byte as a sum of
    powers of 3, its bits, and the same trits in 2-bit packing for comparison.

    ``start`` is five trits (first trit first) or a byte value. ``yours``: the student's
    ``pack_trits_base3``; its byte for the same five trits is drawn beside the reference's,
    differing bits marked.
    """
    trits = _start(start)
    if grading():
        return HTML(_viewer_html(trits, yours))

    pickers = [
        W.ToggleButtons(options=[("\u22121", -1), ("0", 0), ("+1", 1)], value=t, style={"button_width": "46px"})
        for t in trits
    ]
    slider = W.IntSlider(value=_byte_of(trits), min=0, max=242, description="byte", continuous_update=True)
    out = W.HTML(_viewer_html(trits, yours))
    busy = []  # set while one control updates the others, so they do not echo back

    def from_trits(_change=None):
        if busy:
            return
        values = [p.value for p in pickers]
        busy.append(1)
        slider.value = _byte_of(values)
        busy.clear()
        out.value = _viewer_html(values, yours)

    def from_byte(change):
        if busy:
            return
        values = _trits_of(change["new"])
        busy.append(1)
        for p, v in zip(pickers, values):
            p.value = v
        busy.clear()
        out.value = _viewer_html(values, yours)

    for p in pickers:
        p.observe(from_trits, names="value")
    slider.observe(from_byte, names="value")
    columns = [W.VBox([W.HTML(f"<b>t{i}</b>"), p], layout=W.Layout(margin="0 12px 0 0")) for i, p in enumerate(pickers)]
    return W.VBox([W.HBox(columns), slider, out])


# --- size and speed chart ------------------------------------------------------------------------


def size_speed_chart(rows):
    """Bits per trit and unpack time per format, side by side.

    ``rows``: ``(name, bits_per_trit, pack_ms, unpack_ms)`` tuples, as the lesson measures them.
    Returns the matplotlib Figure (the caller displays and closes it).
    """
    rows = list(rows)
    if not rows:
        raise LowbitError("rows must hold at least one (name, bits_per_trit, pack_ms, unpack_ms), got none")
    names = [r[0] for r in rows]
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(rows))]
    fig, (size, speed) = plt.subplots(1, 2, figsize=(9, 0.55 * len(rows) + 1.4), sharey=True)
    y = range(len(rows))
    size.barh(y, [r[1] for r in rows], color=colours)
    size.axvline(math.log2(3), color="#333", linestyle="--", linewidth=1)
    size.text(math.log2(3), len(rows) - 0.5, " log2 3", va="bottom", fontsize=8)
    size.set_xlabel("bits per trit")
    size.set_xlim(0, 2.2)
    size.set_yticks(list(y), names)
    size.invert_yaxis()
    speed.barh(y, [r[3] for r in rows], color=colours)
    speed.set_xscale("log")
    speed.set_xlabel("unpack time (ms, log scale)")
    slowest = max(r[3] for r in rows)
    speed.set_xlim(right=slowest * 4)  # room for the labels
    for i, r in enumerate(rows):
        speed.text(r[3], i, f" {r[3]:.2f}", va="center", fontsize=8)
    fig.tight_layout()
    return fig
