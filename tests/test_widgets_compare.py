"""The debugging views: a student's result drawn beside the reference, differences marked
(lowbit_ref.widgets._draw.compare_html, used by loop_stepper, layout_viewer, trit_byte_viewer)."""

import torch

from lowbit_ref import loop
from lowbit_ref.widgets._draw import MARK, compare_html
from lowbit_ref.widgets.base3 import _viewer_html
from lowbit_ref.widgets.loop import loop_stepper
from lowbit_ref.widgets.uintx import layout_html


def _marked(page: str) -> int:
    return page.count(f"background:{MARK}")


def test_a_right_answer_marks_nothing():
    page = compare_html("pack_weights", loop.pack_weights, (torch.tensor([1, 0, 3, 2], dtype=torch.uint8), 2), [177])
    assert _marked(page) == 0 and "same 1 byte(s) as the reference" in page
    assert "reference, byte 0" in page and "yours, byte 0" in page


def test_a_wrong_byte_marks_exactly_the_differing_bits():
    page = compare_html("f", lambda: torch.tensor([78], dtype=torch.uint8), (), [177])  # MSB-first for LSB-first
    assert _marked(page) == bin(78 ^ 177).count("1") and "byte(s) [0] differ" in page


def test_missing_and_extra_bytes_are_reported():
    short = compare_html("f", lambda: torch.tensor([177], dtype=torch.uint8), (), [177, 255])
    assert "1 byte(s) where the reference has 2" in short and "[1]" in short
    extra = compare_html("f", lambda: [177, 0], (), [177])
    assert _marked(extra) == 8  # the whole extra byte


def test_unfinished_and_broken_answers_say_why():
    def stub(*_):
        raise NotImplementedError

    assert "not written yet" in compare_html("pack_trits_base3", stub, (), [167])
    assert "raised ValueError: nope" in compare_html("f", lambda: (_ for _ in ()).throw(ValueError("nope")), (), [1])
    assert "not a 1-D tensor of bytes" in compare_html("f", lambda: object(), (), [1])
    assert "outside 0..255" in compare_html("f", lambda: [300], (), [1])


def test_layout_viewer_compares_lsb_and_refuses_to_compare_msb():
    def wrong_pack(x, bits):
        return torch.tensor([0, 0, 0], dtype=torch.uint8)

    page = layout_html([7, 0, 0, 0, 0, 0, 0, 0], 3, "lsb", wrong_pack)
    assert "Your wrong_pack" in page and _marked(page) == 3  # 7 = 0b111 in byte 0
    assert "switch the order back" in layout_html([1, 0, 3, 2], 2, "msb", wrong_pack)
    assert "Your" not in layout_html([1, 0, 3, 2], 2, "lsb")  # no student function: reference only


def test_trit_viewer_and_stepper_show_the_students_byte(monkeypatch):
    def off_by_one(trits):
        return torch.tensor([166], dtype=torch.uint8)

    page = _viewer_html([1, 0, -1, -1, 1], off_by_one)
    assert "yours, byte 0" in page and _marked(page) == bin(166 ^ 167).count("1")
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")  # static HTML
    html = loop_stepper([1, 0, 3, 2], 2, yours=loop.pack_weights).data
    assert "same 1 byte(s) as the reference" in html
