"""Interactive views of bit layouts, and the plots, for the lesson notebooks.

The only package of lowbit_ref that imports ipywidgets (and matplotlib). Widgets draw; the
numbers they show come from the library, so what a student sees is what the reference does.
One module per lesson topic; ``_draw`` holds what they share.

While nbgrader executes a notebook (it sets ``NBGRADER_EXECUTION``) every widget is replaced by
a static HTML drawing of its first state: nothing waits for a click, and the feedback page still
shows the picture.
"""

from ._draw import grading
from .bits import byte_explorer, loop_stepper

__all__ = ["byte_explorer", "grading", "loop_stepper"]
