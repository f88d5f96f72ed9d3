"""Lesson 07's layout map: which elements share a byte, for the formats deployed systems use.

The map comes from ``lowbit_ref.formats.maps.layout_map``, which packs with each format's own
packer and watches which bits move, so the picture is the library's layout. Elements are
coloured along a colour wheel by index: neighbours get neighbouring colours, so a byte of
neighbours (lesson 02's layout) is one colour family, and an interleaved byte is a rainbow.
"""

from __future__ import annotations

import html

import ipywidgets as W
from IPython.display import HTML

from ..errors import LowbitError
from ..formats.maps import FORMATS, layout_map
from ._draw import grading

_CSS = """
<style>
.lowbit-map { display: flex; flex-wrap: wrap; gap: 4px; font-family: monospace; font-size: 75%; }
.lowbit-map .byte { display: flex; border: 1px solid #666; }
.lowbit-map .byte span { display: inline-block; min-width: 2.6em; padding: 2px 1px; text-align: center; color: #000; }
.lowbit-map .byte span.mark { outline: 3px solid #000; outline-offset: -3px; font-weight: bold; }
.lowbit-map .label { width: 100%; color: #555; margin-top: 2px; }
</style>
"""


def element_colour(i: int, n: int) -> str:
    """Colour of element ``i`` of ``n``: its place on a colour wheel (neighbours look alike)."""
    return f"hsl({round(300 * i / max(n - 1, 1))}, 75%, 72%)"


def where_is(fmt: str, element: int) -> list[tuple[int, str]]:
    """``(byte, bits)`` for every byte holding part of ``element`` in ``fmt`` (usually one)."""
    return [(b, where) for b, byte in enumerate(layout_map(fmt)) for i, where in byte if i == element]


def layout_map_html(fmt: str, element: int = 0) -> str:
    """Every packed byte of ``fmt`` as a box of its fields, highest bits first, each coloured by
    the element it holds; ``element`` is outlined and its byte-mates listed below."""
    try:
        bytes_ = layout_map(fmt)
    except LowbitError as error:
        return f"<div class='lowbit-note' style='color:#b00'>{html.escape(str(error))}</div>"
    n = FORMATS[fmt][0]
    if not 0 <= element < n:
        return f"<div class='lowbit-note' style='color:#b00'>element must be in 0..{n - 1}, got {element}</div>"
    boxes = []
    for b, byte in enumerate(bytes_):
        fields = "".join(
            f"<span class='{'mark' if i == element else ''}' style='background:{element_colour(i, n)}' "
            f"title='byte {b}, {where}: element {i}'>{i}</span>"
            for i, where in byte
        )
        boxes.append(f"<div class='byte' title='byte {b}'>{fields}</div>")
    places = where_is(fmt, element)
    mates = sorted({i for b, _ in places for i, _ in bytes_[b] if i != element})
    place = "; ".join(f"byte {b}, {where}" for b, where in places)
    note = (
        f"<b>{html.escape(fmt)}</b>: {n} elements in {len(bytes_)} bytes (one box per byte, highest bits first). "
        f"Element {element} is in {place}; it shares its byte with elements {mates}."
    )
    return f"{_CSS}<div class='lowbit-map'>{''.join(boxes)}</div><div class='lowbit-note'>{note}</div>"


def layout_map_viewer(fmt: str = "TQ2_0 (llama.cpp)", element: int = 0):
    """Choose a format and an element: see every byte of one block, coloured by element, with the
    chosen element outlined. While nbgrader runs the notebook: a static drawing of that state."""
    if grading():
        return HTML(layout_map_html(fmt, element))
    choice = W.Dropdown(options=list(FORMATS), value=fmt, description="format", layout=W.Layout(width="360px"))
    picked = W.IntSlider(value=element, min=0, max=FORMATS[fmt][0] - 1, description="element")
    out = W.HTML(layout_map_html(fmt, element))

    def redraw(_change=None):
        picked.max = FORMATS[choice.value][0] - 1
        out.value = layout_map_html(choice.value, min(picked.value, picked.max))

    choice.observe(redraw, names="value")
    picked.observe(redraw, names="value")
    return W.VBox([W.HBox([choice, picked]), out])
