"""lowbit_ref: the reference library behind the lowbit course.

Every lesson's algorithm, correct and device-agnostic. One concept per module:

- ``loop``: plain Python-loop packing, slow on purpose (lesson 01);
- ``packed``: ``PackedTensor``, the bytes plus the layout that made them;
- ``errors``: ``LowbitError``, the one error class;
- ``widgets``: ipywidgets views for the notebooks (imported on demand, never here).
"""

from .errors import LowbitError
from .packed import PackedTensor

__all__ = ["LowbitError", "PackedTensor"]
__version__ = "0.1.0"
