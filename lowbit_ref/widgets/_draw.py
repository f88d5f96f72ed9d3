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
