"""lowbit_ref.widgets.loop: lesson 01's byte explorer and loop stepper."""

import ipywidgets as W
import pytest
from IPython.display import HTML

from lowbit_ref import widgets


def test_byte_explorer_is_interactive_and_explains_the_sign_bit():
    box = widgets.byte_explorer(177)
    toggles, out = box.children[0].children, box.children[1]
    assert [int(t.value) for t in toggles] == [1, 0, 1, 1, 0, 0, 0, 1]
    assert "uint8 <b>177</b>" in out.value and "int8 <b>-79</b>" in out.value
    toggles[0].value = False  # clear the sign bit: both readings agree
    assert "uint8 <b>49</b>" in out.value and "int8 <b>49</b>" in out.value and "agree" in out.value


def test_loop_stepper_replays_each_iteration():
    box = widgets.loop_stepper([1, 0, 3, 2], 2)
    (back, forward, slider), out = box.children[0].children, box.children[1]
    assert slider.max == 4 and "Press <b>next</b>" in out.value
    forward.click()
    forward.click()
    forward.click()  # after iteration 3: 3 shifted by 4 = 48, ORed into 1 gives 49
    assert slider.value == 3
    assert "= 48" in out.value and "= 49" in out.value and "slot 2" in out.value
    forward.click()
    forward.click()  # stays at the last step
    assert slider.value == 4 and "= 177" in out.value and "Done" in out.value
    back.click()
    assert slider.value == 3


def test_widgets_are_static_while_nbgrader_executes(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    for view in (widgets.byte_explorer(177), widgets.loop_stepper([1, 0, 3, 2], 2)):
        assert isinstance(view, HTML) and not isinstance(view, W.Widget)
        assert "177" in view.data


def test_byte_explorer_refuses_a_value_that_is_not_a_byte():
    with pytest.raises(ValueError, match=r"value must be an int in 0\.\.255, got 256"):
        widgets.byte_explorer(256)
