"""Grading throughput with a SQLite and a PostgreSQL gradebook, and what it means for a class.

    python grader/throughput.py                       # 200 submissions, --jobs = CPU cores
    python grader/throughput.py --count 60 --jobs 2 --plot throughput.png

Makes COUNT submissions of lesson 01 from the sample answers (honest, partly wrong, blank, noisy,
a cheat: cycled, each under its own student id), grades them with `grader/grade.py` in a fresh
temporary copy of the course, once with the SQLite gradebook and once against a throw-away
PostgreSQL server (tools/pgserver.py; skipped when PostgreSQL is not installed), and prints
notebooks per minute for each, the load average before and after, and the extrapolation for
300 students x 7 lessons on 1, 4 and 16 cores. The extrapolation assumes grading scales with
cores (students are independent; one shard per core) at this run's rate per core, and a lesson
costs what lesson 01 costs; a figure, not a promise. Writes nothing in the course checkout.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
LESSON = "01_bits_and_loops"
KINDS = ["sample_correct", "sample_partial", "sample_blank", "sample_noisy", "sample_cheat_reference"]
CLASS, LESSONS, CORES = 300, 7, (1, 4, 16)


def course_copy(dest: Path, count: int) -> Path:
    shutil.copy(ROOT / "nbgrader_config.py", dest)
    for folder in ("solutions", "lessons"):
        shutil.copytree(ROOT / folder, dest / folder)
    shutil.copytree(ROOT / "grader", dest / "grader", ignore=shutil.ignore_patterns(
        "submitted", "autograded", "feedback", "release", "gradebook.db", "grades.csv", "__pycache__", "samples"))
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        shutil.copytree(ROOT / "grader" / "samples" / kind / LESSON, dest / "grader" / "submitted" / f"student{i:04d}" / LESSON)
    return dest


def grade(course: Path, jobs: int, db: str | None) -> float:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("LOWBIT_DB_URL", None)
    args = [sys.executable, "grader/grade.py", "--jobs", str(jobs), "--timeout", "10", LESSON] + (["--db", db] if db else [])
    start = time.monotonic()
    result = subprocess.run(args, cwd=course, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    if result.returncode != 0:
        raise SystemExit(f"grade.py failed ({result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200, help="submissions to grade (default 200)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="grade.py --jobs (default: CPU cores)")
    parser.add_argument("--plot", type=Path, help="write a bar chart (PNG) of the extrapolation here")
    args = parser.parse_args(argv)
    if args.count < 1 or args.jobs < 1:
        parser.error(f"--count and --jobs must be at least 1, got {args.count} and {args.jobs}")

    rates = {}
    load_before = os.getloadavg()
    for name in ("SQLite", "PostgreSQL"):
        with tempfile.TemporaryDirectory(prefix="lowbit-throughput-") as scratch:
            course = course_copy(Path(scratch), args.count)
            if name == "SQLite":
                elapsed = grade(course, args.jobs, None)
            else:
                import pgserver

                if pgserver.bindir() is None:
                    print("PostgreSQL not installed (make system-deps): its row is skipped")
                    continue
                with pgserver.PgServer() as server:
                    elapsed = grade(course, args.jobs, server.new_database())
        rates[name] = args.count / elapsed * 60
        print(f"{name:<11} {args.count} notebooks in {elapsed:6.0f} s: {rates[name]:5.1f} per minute "
              f"(--jobs {args.jobs}, load average now {os.getloadavg()[0]:.1f})", flush=True)
    load_after = os.getloadavg()

    notebooks = CLASS * LESSONS
    print(f"\nload average (1, 5, 15 min) before {tuple(round(x, 1) for x in load_before)}, after {tuple(round(x, 1) for x in load_after)}; "
          f"{os.cpu_count()} CPU cores")
    print(f"{CLASS} students x {LESSONS} lessons = {notebooks} notebooks, at this run's rate per core ({args.jobs} jobs):")
    print(f"| gradebook | per minute here | " + " | ".join(f"{c} core{'s' * (c > 1)}" for c in CORES) + " |")
    print("|---|---|" + "---|" * len(CORES))
    rows = {}
    for name, rate in rates.items():
        per_core = rate / args.jobs
        rows[name] = [notebooks / (per_core * c) for c in CORES]
        print(f"| {name} | {rate:.1f} | " + " | ".join(f"{m:.0f} min" for m in rows[name]) + " |")
    if args.plot and rows:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.5))
        width = 0.8 / len(rows)
        for i, (name, minutes) in enumerate(rows.items()):
            ax.bar([x + i * width for x in range(len(CORES))], minutes, width, label=f"{name} ({rates[name]:.1f}/min here)")
        ax.set_xticks([x + width * (len(rows) - 1) / 2 for x in range(len(CORES))], [f"{c} cores" for c in CORES])
        ax.set_ylabel("minutes to grade")
        ax.set_yscale("log")
        ax.set_title(f"{CLASS} students x {LESSONS} lessons (from {args.count} notebooks, load {load_before[0]:.1f})")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
