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
# Test processes (pytest-xdist); a test file's tests stay together in one (--dist loadfile).
# The longest files are named first so that they start first.
TEST_WORKERS ?= 2
SLOW_TESTS := tests/test_grading.py tests/test_browser.py tests/test_release.py tests/test_exchange.py tests/test_postgres.py
# System packages the tests need: Chromium (the browser test), bubblewrap (the grading sandbox),
# PostgreSQL (the gradebook-on-a-server test). `make test` installs them with `make system-deps`
# when one is missing.
SYSTEM_PACKAGES := chromium bubblewrap postgresql
# how to tell each is installed: a command it provides
SYSTEM_COMMANDS := chromium bwrap pg_ctlcluster

# $(call install,EXTRAS): create the environment if needed and install this package with EXTRAS.
# -qq: setuptools' editable build prints a warning box on every install; errors still show.
define install
	$(PYTHON) -c 'import sys; sys.exit("Python >= 3.10 is needed, this is " + sys.version.split()[0]) if sys.version_info < (3, 10) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23.1"
	$(BIN)/python -m pip install -qq $(if $(CONSTRAINTS),-c $(CONSTRAINTS)) $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) -e ".[$(1)]"
	touch $@
endef

.PHONY: lab test gpu-check grade samples lessons release clean-grades clean help system-deps

help:
	@echo "make lab           open the course in JupyterLab (students)"
	@echo "make test          run every test: library, notebooks, grading pipeline"
	@echo "make gpu-check     on a CUDA GPU: every CUDA test and the kernel benchmark, one summary table"
	@echo "make grade         grade the sample submissions: autograde, feedback, CSV (instructors)"
	@echo "make lessons       regenerate lessons/ from solutions/ with nbgrader (contributors)"
	@echo "make samples       regenerate grader/samples/ after a lesson changed (contributors)"
	@echo "make release       write the student bundle dist/lowbit-student/ and .zip (no answer key)"
	@echo "make clean-grades  remove nbgrader's runtime folders under grader/"
	@echo "make system-deps   install the system packages: $(SYSTEM_PACKAGES)"

# Students get the course; tests, grading and contributors get the test tools too.
$(VENV)/.installed-course: pyproject.toml $(CONSTRAINTS)
	$(call install,course)

$(VENV)/.installed-test: pyproject.toml $(CONSTRAINTS)
	$(call install,course$(comma)test)

comma := ,
STAMP := $(VENV)/.installed-test

lab: $(VENV)/.installed-course
	$(BIN)/jupyter lab --ServerApp.root_dir=lessons --allow-root

# Installs the system packages as root (apt-get); otherwise prints the command and fails.
system-deps:
	@missing=""; for c in $(SYSTEM_COMMANDS); do command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; done; \
	if [ -z "$$missing" ]; then echo "system packages present: $(SYSTEM_PACKAGES)"; exit 0; fi; \
	echo "missing:$$missing (from: $(SYSTEM_PACKAGES))"; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES); \
	else \
		echo "Install them, then run make test again:"; \
		echo "    sudo apt-get install $(SYSTEM_PACKAGES)     (Debian/Ubuntu)"; \
		echo "    sudo dnf install $(SYSTEM_PACKAGES)         (Fedora; chromium's package may be named chromium-browser)"; \
		exit 1; \
	fi

test: $(STAMP)
	@for c in $(SYSTEM_COMMANDS); do command -v $$c >/dev/null 2>&1 || { $(MAKE) --no-print-directory system-deps || exit 1; break; }; done
	$(BIN)/python -m pytest $(SLOW_TESTS) tests --nbval-lax --nbval-cell-timeout=300 solutions -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# Every CUDA test and the GPU benchmark in one run (under 5 minutes on an H100); says so and
# succeeds where there is no CUDA GPU.
gpu-check: $(STAMP)
	$(BIN)/python -m lowbit_ref.gpucheck

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
