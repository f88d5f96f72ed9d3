"""nbgrader configuration: this repository is the course directory.

solutions/ holds the source notebooks (with solutions and hidden tests), lessons/ the release
that students open. Everything nbgrader makes while grading lives under grader/ and is
ignored by git.
"""

import os

c = get_config()  # noqa: F821 (nbgrader injects it)
here = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.course_id = "lowbit"
c.CourseDirectory.root = here
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "lessons"
c.CourseDirectory.submitted_directory = "grader/submitted"
c.CourseDirectory.autograded_directory = "grader/autograded"
c.CourseDirectory.feedback_directory = "grader/feedback"
os.makedirs(os.path.join(here, "grader"), exist_ok=True)
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(here, "grader", "gradebook.db")
# Only notebooks are handed out; helper files in a lesson folder are not.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", ".hypothesis"]

# Autograde: a student's infinite loop or hung kernel must not stop the batch.
c.ExecutePreprocessor.timeout = 120
c.ExecutePreprocessor.interrupt_on_timeout = True

# The release keeps nbgrader's standard stub; hidden tests are stripped from it.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
