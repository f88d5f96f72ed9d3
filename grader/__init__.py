"""The course's grading tools: grade.py (the pipeline), verify.py + sandbox.py (the independent
check), plugins.py (nbgrader plugins), bwrap.py (the OS sandbox), common.py (shared helpers)."""
