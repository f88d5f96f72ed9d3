"""nbgrader configuration: this repository is the course directory.

solutions/ holds the source notebooks (with solutions and hidden tests), lessons/ the release
that students open. Everything nbgrader makes while grading lives under grader/ and is
ignored by git.
"""

import os
import sys

c = get_config()  # noqa: F821 (nbgrader injects it)
here = os.path.dirname(os.path.abspath(__file__))
if here not in sys.path:  # the course directory: grader/ is a package in it
    sys.path.insert(0, here)

c.CourseDirectory.course_id = "lowbit"
c.CourseDirectory.root = here
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "lessons"
c.CourseDirectory.submitted_directory = "grader/submitted"
c.CourseDirectory.autograded_directory = "grader/autograded"
c.CourseDirectory.feedback_directory = "grader/feedback"
os.makedirs(os.path.join(here, "grader"), exist_ok=True)
# The gradebook: LOWBIT_DB_URL when set (grade.py --db sets it; a PostgreSQL server for several
# graders or machines, see grader/gradebook.py), else the SQLite file grader/gradebook.db.
# The variable is taken out of this process's environment (kept on `sys` for a later re-read of
# this file), so kernels running student code do not inherit the URL and any password in it.
_db_url = os.environ.pop("LOWBIT_DB_URL", None) or getattr(sys, "_lowbit_db_url", None)
if _db_url:
    sys._lowbit_db_url = _db_url
c.CourseDirectory.db_url = _db_url or "sqlite:///" + os.path.join(here, "grader", "gradebook.db")
# Only notebooks are handed out; helper files in a lesson folder are not.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", ".hypothesis"]

# Autograde: one student's broken notebook must never stop the batch or cost points elsewhere,
# and no student's code runs outside the sandbox (grader/bwrap.py).
from nbgrader.converters import Autograde  # noqa: E402
from nbgrader.preprocessors import Execute  # noqa: E402

from grader import bwrap  # noqa: E402
from grader.plugins import ResilientExecute, SandboxedKernelManager  # noqa: E402

# A cell that runs longer than this is interrupted and fails (an infinite loop); every lesson
# cell runs in a few seconds, so this is generous. grader/grade.py --timeout overrides it.
c.Execute.timeout = int(os.environ.get("LOWBIT_CELL_TIMEOUT", "60"))
c.Execute.interrupt_on_timeout = True
# A file a student submits next to the notebook (say a fake torch.py or lowbit_ref/) must not
# shadow a real module: IPython keeps the working directory off sys.path (and grade.py sets
# PYTHONSAFEPATH=1, so Python does too).
c.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:", "--IPKernelApp.ignore_cwd=True"]
# Every autograde kernel starts inside the sandbox; only `grade.py --no-sandbox` (a trusted class)
# turns it off. (Set on ResilientExecute, which only autograde uses: a student's Validate button
# runs their own notebook on their own machine, unsandboxed.)
if bwrap.enabled():
    c.ResilientExecute.kernel_manager_class = SandboxedKernelManager
# nbgrader's own autograde steps, with its Execute swapped for ResilientExecute: a kernel that
# dies (os._exit, a crash) is restarted and grading goes on; nbgrader alone would drop the
# whole submission.
c.Autograde.autograde_preprocessors = [
    ResilientExecute if step is Execute else step for step in Autograde.class_traits()["autograde_preprocessors"].default()
]
# A deleted test cell is put back and run: the tests are ours, not the student's to remove.
c.OverwriteCells.add_missing_cells = True

# Collecting a zip of downloads (`nbgrader zip_collect LESSON`): put the zip in
# grader/downloaded/LESSON/archive/; files named <student_id>_<lesson>.ipynb (inside the zip, at
# any depth) land in grader/submitted/<student_id>/<lesson>/<lesson>.ipynb. Adapt the pattern to
# what your learning platform names its downloads.
c.ZipCollectApp.downloaded_directory = "grader/downloaded"
c.FileNameCollectorPlugin.named_regexp = r".*?(?P<student_id>[A-Za-z0-9.-]+)_(?P<file_id>\d\d_[a-z0-9_]+\.ipynb)$"

# The release keeps nbgrader's standard stub; hidden tests are stripped from it.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# Release: graded test cells get the `raises-exception` tag, so Run All goes past an unfinished
# exercise to the demos below it (grader/release_tags.py). Grading ignores tags.
from nbgrader.converters import GenerateAssignment  # noqa: E402
from grader.release_tags import TagTestCells  # noqa: E402

c.GenerateAssignment.preprocessors = GenerateAssignment.class_traits()["preprocessors"].default() + [TagTestCells]
