"""Run All goes through every cell of a release notebook: graded test cells carry the
``raises-exception`` tag (added by grader/release_tags.py during ``make lessons``), and only
they do; the source notebooks stay untagged, so nbval still fails on a test cell that raises."""

import pytest

from course import LESSONS, nbgrader_meta, notebook


@pytest.mark.parametrize("lesson", LESSONS)
def test_release_test_cells_may_raise_and_nothing_else_is_tagged(lesson):
    for cell in notebook("lessons", lesson)["cells"]:
        tagged = "raises-exception" in cell.get("metadata", {}).get("tags", [])
        graded_test = cell["cell_type"] == "code" and nbgrader_meta(cell).get("grade", False)
        assert tagged == graded_test, f"lessons/{lesson}: cell {nbgrader_meta(cell).get('grade_id')!r}"
    for cell in notebook("solutions", lesson)["cells"]:
        assert "raises-exception" not in cell.get("metadata", {}).get("tags", []), f"solutions/{lesson} is tagged"
