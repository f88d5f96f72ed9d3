"""Build the student release: dist/lowbit-student/ and dist/lowbit-student.zip.

    python tools/release.py            # what `make release` runs
    python tools/release.py --out DIR  # build somewhere else (DIR/lowbit-student, DIR/lowbit-student.zip)

The bundle is what a student needs and nothing an instructor keeps: the generated lessons
(lessons/, stubs only: nbgrader removed the solutions and hidden tests), the reference library
lowbit_ref/ (demos fall back to it), the install files `make lab` uses (pyproject.toml,
constraints.txt, environment.yml) and a student Makefile and README from tools/student/.
It never holds solutions/, grader/ (sample answers, checks, gradebook) or tests/.

Only the output folder and zip are (re)written; anything else in dist/ is left alone. Before
writing, every file of the bundle is searched for the text of every hidden test and solution
line of solutions/; a hit stops the build with the file and line (nothing is written then).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAME = "lowbit-student"
# (source, name in the bundle); folders are copied without caches and notebook checkpoints
CONTENT = [
    ("lessons", "lessons"),
    ("lowbit_ref", "lowbit_ref"),
    ("pyproject.toml", "pyproject.toml"),
    ("constraints.txt", "constraints.txt"),
    ("environment.yml", "environment.yml"),
    ("tools/student/Makefile", "Makefile"),
    ("tools/student/README.md", "README.md"),
]
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", ".hypothesis", "*.egg-info")
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", re.S)
SOLUTION = re.compile(r"### BEGIN SOLUTION(.*?)### END SOLUTION", re.S)
# A line shorter than this ("return out", "else:") says nothing about the answer.
MIN_SECRET = 16


def _source(cell) -> str:
    src = cell.get("source", "")
    return src if isinstance(src, str) else "".join(src)


def secret_lines(root: Path = ROOT) -> dict[str, set[str]]:
    """The non-trivial lines of every hidden test ("hidden") and solution ("solution") in solutions/."""
    found: dict[str, set[str]] = {"hidden": set(), "solution": set()}
    public: set[str] = set()
    for path in sorted((root / "solutions").rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        for cell in json.loads(path.read_text())["cells"]:
            text = _source(cell)
            for kind, pattern in (("hidden", HIDDEN), ("solution", SOLUTION)):
                for block in pattern.findall(text):
                    found[kind].update(l.strip() for l in block.splitlines() if len(l.strip()) >= MIN_SECRET)
            # what students see anyway (a seed, an import) is no secret even where a test repeats it
            public.update(l.strip() for l in SOLUTION.sub("", HIDDEN.sub("", text)).splitlines())
    return {kind: lines - public for kind, lines in found.items()}


def leaks(bundle: Path, root: Path = ROOT) -> list[str]:
    """Where the bundle shows a hidden-test line anywhere, or a solution line outside lowbit_ref/.

    lowbit_ref is the reference library: it implements every exercise (that is what the demos
    fall back to), so a line of its code may equal a line of an answer, and plain code a hidden
    test uses (opening a file) may appear in it too; none of a hidden test's asserts may.
    Notebook text is compared as the JSON-escaped string it is stored as.
    """
    secrets = secret_lines(root)
    problems = []
    for path in sorted(p for p in bundle.rglob("*") if p.is_file()):
        rel = path.relative_to(bundle)
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        library = rel.parts[0] == "lowbit_ref"
        for kind in ("hidden",) if library else ("hidden", "solution"):
            for line in secrets[kind]:
                if library and not line.startswith("assert"):
                    continue
                if line in text or json.dumps(line)[1:-1] in text:
                    problems.append(f"{rel}: {kind} line {line!r}")
    return problems


def build(out: Path) -> Path:
    """Write out/lowbit-student/ and out/lowbit-student.zip; return the folder."""
    missing = [src for src, _ in CONTENT if not (ROOT / src).exists()]
    if missing:
        raise SystemExit(f"release: missing {missing} (run from a full course checkout)")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out, prefix=".building-") as scratch:
        staged = Path(scratch) / NAME
        staged.mkdir()
        for src, dest in CONTENT:
            if (ROOT / src).is_dir():
                shutil.copytree(ROOT / src, staged / dest, ignore=SKIP)
            else:
                shutil.copy2(ROOT / src, staged / dest)
        problems = leaks(staged)
        if problems:
            raise SystemExit("release: the bundle would show answer-key text; nothing written:\n  " + "\n  ".join(problems[:20]))
        archive = Path(scratch) / f"{NAME}.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
            for path in sorted(p for p in staged.rglob("*") if p.is_file()):
                z.write(path, str(Path(NAME) / path.relative_to(staged)))
        # Replace only our two outputs, each in one step once complete.
        target = out / NAME
        if target.exists():
            print(f"release: replacing the previous build {target} and its .zip (only these; the rest of {out} stays)")
            shutil.rmtree(target)
        staged.rename(target)
        archive.replace(out / f"{NAME}.zip")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder (default: dist/)")
    args = parser.parse_args(argv)
    target = build(args.out.resolve())
    files = sum(1 for p in target.rglob("*") if p.is_file())
    print(f"Wrote {target} ({files} files) and {target}.zip")
    return 0


if __name__ == "__main__":
    sys.exit(main())
