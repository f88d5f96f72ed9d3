"""Throughput of grading with and without the sandbox, on the same submissions, in one run.

    python grader/sandbox_throughput.py                    # lesson 01, its honest samples, --jobs 2, 2 rounds
    python grader/sandbox_throughput.py --rounds 3 --copies 2 02_vectorized_packing

Copies the course to a temporary folder, puts `--copies` copies of the lesson's honest sample
submissions (correct, blank, partial, noisy, ...) in grader/submitted/, and grades them with
`grade.py --jobs N`, alternating sandbox and `--no-sandbox` runs (so a change in the machine's
load hits both alike). Prints each run's notebooks per minute, the load average around it, and
the median of each mode.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HONEST = ("sample_correct", "sample_blank", "sample_partial", "sample_noisy", "sample_raises", "sample_deleted_tests")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lesson", nargs="?", default="01_bits_and_loops")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--copies", type=int, default=1)
    args = parser.parse_args(argv)
    rates: dict[str, list[float]] = {"sandbox": [], "no sandbox": []}
    with tempfile.TemporaryDirectory(prefix="lowbit-throughput-") as tmp:
        course = Path(tmp) / "course"
        course.mkdir()
        shutil.copy(ROOT / "nbgrader_config.py", course)
        for folder in ("solutions", "lessons", "lowbit_ref"):
            shutil.copytree(ROOT / folder, course / folder, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(ROOT / "grader", course / "grader",
                        ignore=shutil.ignore_patterns("__pycache__", "submitted", "autograded", "feedback", "release", "gradebook.db", "samples"))
        students = []
        for copy in range(args.copies):
            for sample in HONEST:
                source = ROOT / "grader" / "samples" / sample / args.lesson
                if source.is_dir():
                    students.append(f"{sample}_{copy}")
                    shutil.copytree(source, course / "grader" / "submitted" / students[-1] / args.lesson)
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
        print(f"{len(students)} submissions of {args.lesson}, grade.py --jobs {args.jobs}, {os.cpu_count()} CPUs")
        for round_ in range(args.rounds):
            for mode in ("sandbox", "no sandbox") if round_ % 2 == 0 else ("no sandbox", "sandbox"):
                for runtime in ("autograded", "feedback", "gradebook.db", "grades.csv"):
                    shutil.rmtree(course / "grader" / runtime, ignore_errors=True)
                    (course / "grader" / runtime).unlink(missing_ok=True) if (course / "grader" / runtime).is_file() else None
                load_before = os.getloadavg()[0]
                start = time.monotonic()
                command = [sys.executable, "grader/grade.py", "--jobs", str(args.jobs), args.lesson]
                result = subprocess.run(command + (["--no-sandbox"] if mode == "no sandbox" else []), cwd=course,
                                        env=env, capture_output=True, text=True)
                elapsed = time.monotonic() - start
                rate = len(students) / elapsed * 60
                rates[mode].append(rate)
                print(f"  {mode:<11} {elapsed:6.1f} s  {rate:5.1f} notebooks/min  load {load_before:.1f} -> {os.getloadavg()[0]:.1f}"
                      f"  (exit {result.returncode})", flush=True)
    on, off = statistics.median(rates["sandbox"]), statistics.median(rates["no sandbox"])
    print(f"median: sandbox {on:.1f}/min, no sandbox {off:.1f}/min: the sandbox costs {100 * (1 - on / off):.0f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
