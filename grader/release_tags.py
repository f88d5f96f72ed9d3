"""Release-only cell tags, added by ``nbgrader generate_assignment`` (see nbgrader_config.py).

JupyterLab's *Run > Run All Cells* stops at the first cell that raises, so a student who has
not finished an exercise would never see the demos below its test cell. The ``raises-exception``
tag tells JupyterLab (and nbval) that a cell may raise: Run All goes on past it. Only the
release gets the tag: the source notebooks in solutions/ stay untagged, so running them with
nbval still fails on any test cell that raises. Grading is unchanged: nbgrader scores a test
cell by whether it raised, and ignores tags.
"""

from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade

TAG = "raises-exception"


class TagTestCells(NbGraderPreprocessor):
    """Add the ``raises-exception`` tag to every graded code cell (the test cells)."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and is_grade(cell):
            tags = cell.metadata.setdefault("tags", [])
            if TAG not in tags:
                tags.append(TAG)
        return cell, resources
