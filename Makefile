# One command opens the course (`make lab`), one runs every test (`make test`).
# Both create .venv/ and install everything on first use; later runs reuse it.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONSTRAINTS ?= constraints.txt
# Optional extra package index for torch, e.g. https://download.pytorch.org/whl/cpu (the CPU build).
TORCH_INDEX ?=
# nbgrader runs alembic in a subprocess, so the environment's bin/ goes first on PATH.
export PATH := $(abspath $(BIN)):$(PATH)
PYTEST_ARGS ?=

# $(call install,EXTRAS): create the environment if needed and install this package with EXTRAS.
define install
	$(PYTHON) -c 'import sys; sys.exit("Python >= 3.10 is needed, this is " + sys.version.split()[0]) if sys.version_info < (3, 10) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23.1"
	$(BIN)/python -m pip install --quiet $(if $(CONSTRAINTS),-c $(CONSTRAINTS)) $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) -e ".[$(1)]"
	touch $@
endef

.PHONY: lab test grade samples lessons release clean-grades clean help

help:
	@echo "make lab           open the course in JupyterLab (students)"
	@echo "make test          run every test: library, notebooks, grading pipeline"
	@echo "make grade         grade the sample submissions: autograde, feedback, CSV (instructors)"
	@echo "make lessons       regenerate lessons/ from solutions/ with nbgrader (contributors)"
	@echo "make samples       regenerate grader/samples/ after a lesson changed (contributors)"
	@echo "make release       write the student bundle dist/lowbit-student/ and .zip (no answer key)"
	@echo "make clean-grades  remove nbgrader's runtime folders under grader/"

# Students get the course; tests, grading and contributors get the test tools too.
$(VENV)/.installed-course: pyproject.toml $(CONSTRAINTS)
	$(call install,course)

$(VENV)/.installed-test: pyproject.toml $(CONSTRAINTS)
	$(call install,course$(comma)test)

comma := ,
STAMP := $(VENV)/.installed-test

lab: $(VENV)/.installed-course
	$(BIN)/jupyter lab --ServerApp.root_dir=lessons --allow-root

test: $(STAMP)
	$(BIN)/python -m pytest tests --nbval-lax --nbval-cell-timeout=300 solutions -p no:cacheprovider $(PYTEST_ARGS)

grade: $(STAMP)
	$(BIN)/python grader/grade.py --samples

lessons: $(STAMP)
	@for lesson in $$(ls solutions); do $(BIN)/nbgrader generate_assignment $$lesson --force || exit 1; done

# The student bundle: lessons, lowbit_ref and what `make lab` needs; never solutions/ or grader/.
# Rewrites dist/lowbit-student/ and dist/lowbit-student.zip only; needs no virtual environment.
release:
	$(PYTHON) tools/release.py

samples: $(STAMP)
	$(BIN)/python grader/make_samples.py

clean-grades:
	rm -rf grader/gradebook.db grader/submitted grader/autograded grader/feedback grader/release grader/grades.csv

clean: clean-grades
	rm -rf $(VENV)
