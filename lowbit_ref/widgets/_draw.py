"""Shared drawing helpers for the widgets: colours, bit tables, and the nbgrader switch.

Every widget draws bits with ``bit_row`` so a bit looks the same in every lesson.
"""

from __future__ import annotations

import html
import os

# Okabe-Ito colours: distinguishable with the common forms of colour blindness.
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999")
EMPTY = "#f2f2f2"

_CSS = """
<style>
.lowbit-bits { border-collapse: collapse; font-family: monospace; margin: 4px 0; }
.lowbit-bits td { border: 1px solid #888; width: 2.2em; height: 1.8em; text-align: center; color: #000; }
.lowbit-bits th { font-weight: normal; font-size: 80%; color: #555; padding: 0 6px; text-align: right; }
/* the byte's value and the row's note read on from the bits, so they start at the left */
.lowbit-bits th.lowbit-after { text-align: left; }
.lowbit-note { font-size: 90%; color: #333; }
</style>
"""


def grading() -> bool:
    """True while nbgrader executes the notebook (autograde, validate): draw, don't interact."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def _colour(owner: int | None) -> str:
    return EMPTY if owner is None else PALETTE[owner % len(PALETTE)]


def bit_row(byte: int, owners: list[int | None], label: str, note: str = "") -> str:
    """One table row: the 8 bits of ``byte``, most significant first, each cell coloured by the
    index of the input value that owns it (``owners[p]`` for bit position ``p``; None = not yet filled)."""
    cells = []
    for position in range(7, -1, -1):
        owner = owners[position]
        title = f"bit {position}" + ("" if owner is None else f", from value {owner}")
        cells.append(f'<td style="background:{_colour(owner)}" title="{title}">{(byte >> position) & 1}</td>')
    return (
        f"<tr><th>{html.escape(label)}</th>{''.join(cells)}"
        f"<th class='lowbit-after'>= {byte}</th><th class='lowbit-after'>{html.escape(note)}</th></tr>"
    )


def table(rows: list[str]) -> str:
    """Bit rows (from ``bit_row``) under a header of bit positions 7..0."""
    header = "".join(f"<th style='text-align:center'>{p}</th>" for p in range(7, -1, -1))
    return f"{_CSS}<table class='lowbit-bits'><tr><th>bit</th>{header}<th></th><th></th></tr>{''.join(rows)}</table>"


# --- the student's result beside the reference -------------------------------------------------

MARK = "#ff4d4d"  # a bit that differs from the reference


def diff_row(byte: int, reference: int | None, label: str, note: str = "") -> str:
    """One table row: the 8 bits of ``byte`` (the student's), each bit that differs from the
    same bit of ``reference`` marked in red with a thick border; ``reference=None``: a byte the
    reference does not have (all marked)."""
    cells = []
    for position in range(7, -1, -1):
        bit = (byte >> position) & 1
        wrong = reference is None or bit != (reference >> position) & 1
        style = f"background:{MARK};border:2px solid #900;font-weight:bold" if wrong else "background:#fff"
        title = f"bit {position}" + (", differs from the reference" if wrong else "")
        cells.append(f'<td style="{style}" title="{title}">{bit}</td>')
    return (
        f"<tr><th>{html.escape(label)}</th>{''.join(cells)}"
        f"<th class='lowbit-after'>= {byte}</th><th class='lowbit-after'>{html.escape(note)}</th></tr>"
    )


def compare_html(name: str, fn, args: tuple, reference: list[int]) -> str:
    """Call the student's ``fn(*args)`` and draw its bytes under the reference's, every differing
    bit marked; or say why there is nothing to draw (not written yet, an error, not bytes)."""
    try:
        got = fn(*args)
    except NotImplementedError:
        return f"<div class='lowbit-note'>Your {html.escape(name)}: not written yet.</div>"
    except Exception as error:  # a half-written exercise may raise anything
        text = f"{type(error).__name__}: {error}"
        return f"<div class='lowbit-note' style='color:#b00'>Your {html.escape(name)} raised {html.escape(text)}</div>"
    try:
        values = [int(v) for v in (got.tolist() if hasattr(got, "tolist") else got)]
    except (TypeError, ValueError):
        return (f"<div class='lowbit-note' style='color:#b00'>Your {html.escape(name)} returned "
                f"{html.escape(type(got).__name__)}, not a 1-D tensor of bytes.</div>")  # fmt: skip
    if any(not 0 <= v <= 255 for v in values):
        return f"<div class='lowbit-note' style='color:#b00'>Your {html.escape(name)} returned values outside 0..255: {values}</div>"
    rows = []
    for k in range(max(len(values), len(reference))):
        if k < len(reference):
            rows.append(bit_row(reference[k], [None] * 8, f"reference, byte {k}"))
        if k < len(values):
            rows.append(diff_row(values[k], reference[k] if k < len(reference) else None, f"yours, byte {k}"))
    wrong = [k for k, v in enumerate(values) if k >= len(reference) or v != reference[k]]
    if len(values) < len(reference):
        wrong += list(range(len(values), len(reference)))
    if not wrong:
        verdict = f"Your {html.escape(name)} gives the same {len(values)} byte(s) as the reference."
    else:
        count = f"{len(values)} byte(s) where the reference has {len(reference)}; " if len(values) != len(reference) else ""
        verdict = (f"Your {html.escape(name)}: {count}byte(s) {wrong[:8]} differ from the reference "
                   "(differing bits in red).")  # fmt: skip
    return table(rows) + f"<div class='lowbit-note'>{verdict}</div>"
