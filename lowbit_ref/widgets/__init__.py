"""Interactive views of bit layouts, and the plots, for the lesson notebooks.

The only package of lowbit_ref that imports ipywidgets (and matplotlib). Widgets draw; the
numbers they show come from the library, so what a student sees is what the reference does.
One module per lesson topic; ``_draw`` holds what they share:

- ``loop`` (lesson 01): ``byte_explorer``, ``loop_stepper``;
- ``uintx`` (lesson 02): ``layout_viewer``, ``timing_plot``;
- ``ternary`` (lesson 03): ``threshold_explorer``, ``group_size_plot``;
- ``base3`` (lesson 04): ``trit_byte_viewer``, ``size_speed_chart``;
- ``checkpoint`` (lesson 05): ``layer_sizes_plot``, ``accuracy_size_plot``, ``plan_explorer``;
- ``kernels`` (lesson 06): ``roofline_plot``, ``token_time_explorer``, ``bandwidth_plot``.

While nbgrader executes a notebook (it sets ``NBGRADER_EXECUTION``) every widget is replaced by
a static HTML drawing of its first state: nothing waits for a click, and the feedback page still
shows the picture.
"""

from ._draw import grading
from .loop import byte_explorer, loop_stepper

__all__ = ["byte_explorer", "grading", "loop_stepper"]
