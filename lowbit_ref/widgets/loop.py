"""Lesson 01's views: the byte explorer and the loop stepper."""

from __future__ import annotations


import ipywidgets as W
import torch
from IPython.display import HTML

from ..loop import byte_views, pack_weights
from ._draw import bit_row, compare_html, grading, table

# --- byte explorer -----------------------------------------------------------------------------


def _byte_explorer_html(bit_list: list[int]) -> str:
    view = byte_views(bit_list)
    top = bit_list[0]
    why = (
        f"The top bit is set: uint8 counts it as +128, int8 as -128, so the int8 value is "
        f"{view['uint8']} - 256 = {view['int8']}."
        if top
        else "The top bit is clear, so uint8 and int8 agree. Set bit 7 to see them part ways."
    )
    # colour the sign bit apart: it is the one bit the two readings disagree on
    rows = [bit_row(view["uint8"], [1] * 7 + [5], "byte")]
    return (
        table(rows)
        + f"<div class='lowbit-note'>bits <b>{view['bits']}</b> &rarr; uint8 <b>{view['uint8']}</b>, "
        f"int8 <b>{view['int8']}</b>. {why}</div>"
    )


def byte_explorer(value: int = 177):
    """Eight toggles, one per bit; shows the byte as uint8 and as int8 and why they differ."""
    if not isinstance(value, int) or not 0 <= value <= 255:
        raise ValueError(f"value must be an int in 0..255, got {value!r}")
    start = [(value >> p) & 1 for p in range(7, -1, -1)]
    if grading():
        return HTML(_byte_explorer_html(start))

    toggles = [
        W.ToggleButton(value=bool(b), description=f"bit {p}", layout=W.Layout(width="64px"))
        for b, p in zip(start, range(7, -1, -1))
    ]
    out = W.HTML(_byte_explorer_html(start))

    def redraw(_change=None):
        for t in toggles:  # a set bit is a filled button, so the byte reads at a glance
            t.button_style = "info" if t.value else ""
        out.value = _byte_explorer_html([int(t.value) for t in toggles])

    for t in toggles:
        t.observe(redraw, names="value")
    redraw()
    return W.VBox([W.HBox(toggles), out])


# --- loop stepper ------------------------------------------------------------------------------


def _stepper_html(values: list[int], bits: int, steps: list, k: int) -> str:
    """The state after ``k`` loop iterations (k = 0: nothing packed yet)."""
    per_byte = 8 // bits
    if k == 0:
        return table([bit_row(0, [None] * 8, "packed byte 0")]) + (
            f"<div class='lowbit-note'>{len(steps)} iterations to go: {len(values)} values, "
            f"{per_byte} per byte at {bits} bits. Press <b>next</b>.</div>"
        )
    s = steps[k - 1]
    slot = s.shift // bits

    def owners(filled_slots) -> list[int | None]:
        result: list[int | None] = [None] * 8
        for sl in filled_slots:
            for p in range(sl * bits, (sl + 1) * bits):
                result[p] = s.byte_index * per_byte + sl
        return result

    rows = [
        bit_row(s.before, owners(range(slot)), f"packed byte {s.byte_index}", "before"),
        # before the shift the incoming value sits in the low bits
        bit_row(s.value, [s.value_index] * bits + [None] * (8 - bits), f"value {s.value_index}", "incoming"),
        bit_row(s.shifted, owners([slot]), f"<< {s.shift}", f"shift left by bits * {slot} = {s.shift}"),
        bit_row(s.after, owners(range(slot + 1)), "OR", "packed byte after |="),
    ]
    done = "" if k < len(steps) else " Done: every value is packed."
    return table(rows) + (
        f"<div class='lowbit-note'>iteration {k} of {len(steps)}: value {s.value_index} goes to byte "
        f"{s.byte_index}, slot {slot}.{done}</div>"
    )


def loop_stepper(values=(1, 0, 3, 2), bits: int = 2, yours=None):
    """Replay ``pack_weights`` one iteration at a time: packed byte so far, incoming value,
    shifted value and OR result, each bit coloured by the value it came from.

    The steps are recorded by the reference loop, so the picture is right even while the
    student's own version is unfinished. ``yours``: the student's ``pack_weights``; its bytes for
    the same values are drawn under the reference's, every bit that differs marked in red.
    """
    tensor = torch.tensor(list(values), dtype=torch.uint8)
    steps: list = []
    reference = pack_weights(tensor, bits, trace=steps).tolist()
    values = tensor.tolist()
    mine = "" if yours is None else compare_html("pack_weights", yours, (tensor.clone(), bits), reference)
    if grading():
        return HTML(_stepper_html(values, bits, steps, len(steps)) + mine)

    slider = W.IntSlider(value=0, min=0, max=len(steps), description="iteration", continuous_update=True)
    back = W.Button(description="previous", layout=W.Layout(width="90px"))
    forward = W.Button(description="next", layout=W.Layout(width="90px"))
    out = W.HTML(_stepper_html(values, bits, steps, 0))
    slider.observe(lambda ch: setattr(out, "value", _stepper_html(values, bits, steps, ch["new"])), names="value")
    back.on_click(lambda _b: setattr(slider, "value", max(slider.value - 1, 0)))
    forward.on_click(lambda _b: setattr(slider, "value", min(slider.value + 1, len(steps))))
    return W.VBox([W.HBox([back, forward, slider]), out, *([W.HTML(mine)] if mine else [])])
