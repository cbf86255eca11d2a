"""Grade a student's file: every exercise of one chapter, one verdict each.

``python -m creditlab.check ch01 path/to/student.py`` imports the student's file, looks up
each exercise of the chapter by its function name (the names of the stubs in
``creditlab.exercises.chNN``), runs :func:`creditlab.exercises.check.check` on it and
prints one row per exercise. ``--json`` prints the same as JSON for autograders. The exit
status is 0 when every exercise passes, 1 when any fails or is missing, 2 when the command
itself is wrong (unknown chapter, unreadable file).

The student's file is ordinary Python: it is executed once (like ``import``), so top-level
code runs; anything it prints goes to stderr, never into the table or the JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import sys
import time
import traceback
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from creditlab.exercises import check as _check


@dataclass
class Result:
    """The verdict on one exercise."""

    exercise: str  # "ch01.gae"
    status: str  # "pass", "fail", "missing" or "error"
    message: str
    seconds: float

    @property
    def passed(self) -> bool:
        return self.status == "pass"


def normalise_chapter(chapter: str) -> str:
    """``"ch01"``, ``"ch1"``, ``"01"`` and ``"1"`` all mean ``"ch01"``; unknown raises KeyError."""
    if not isinstance(chapter, str):
        raise TypeError(f"chapter must be a str such as 'ch01', got {type(chapter).__name__}")
    text = chapter.strip().lower().removeprefix("ch")
    if not text.isdigit():
        raise KeyError(f"chapter must look like 'ch01' or '1', got {chapter!r}")
    name = f"ch{int(text):02d}"
    known = _check.chapters()
    if name not in known:
        raise KeyError(f"no exercises for chapter {name!r}; chapters with exercises: "
                       f"{', '.join(known)}")
    return name


def exercise_names(chapter: str) -> list[str]:
    """The chapter's exercises, in the order its checks module defines them."""
    return list(_check.checks_module(chapter).INVARIANTS)


def load_student_module(path: str | Path) -> ModuleType:
    """Execute the student's file as a fresh module (its prints go to stderr)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    name = f"_creditlab_student_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.resolve().parent))  # the student's own helper modules
    try:
        with contextlib.redirect_stdout(sys.stderr):
            spec.loader.exec_module(module)
    finally:
        sys.path.pop(0)
    return module


def _one_line(text: str) -> str:
    return " ".join(text.split())


def grade_module(chapter: str, module: Any) -> list[Result]:
    """Grade every exercise of ``chapter`` found as a function in ``module``.

    ``chapter`` as in :func:`normalise_chapter` (an unknown one raises KeyError);
    ``module`` is a module or any object with attributes (not a number or a string).
    """
    chapter = normalise_chapter(chapter)
    if isinstance(module, (str, bytes)) or not hasattr(module, "__dict__"):
        raise TypeError(f"module must be a module (or an object with the exercise "
                        f"functions as attributes), got {type(module).__name__}")
    results = []
    for exercise in exercise_names(chapter):
        name = f"{chapter}.{exercise}"
        fn = getattr(module, exercise, None)
        if fn is None or not callable(fn):
            results.append(Result(name, "missing", f"no function named {exercise!r}", 0.0))
            continue
        start = time.perf_counter()
        try:
            with contextlib.redirect_stdout(sys.stderr):
                _check.check(name, fn, verbose=False)
        except AssertionError as err:
            status, message = "fail", str(err) or "failed"
        except Exception as err:  # noqa: BLE001 - a student's bug is a verdict, not a crash
            frame = traceback.extract_tb(err.__traceback__)[-1]
            status = "error"
            message = f"{type(err).__name__}: {err} (line {frame.lineno} of {frame.filename})"
        else:
            status, message = "pass", "stored cases and invariants pass"
        results.append(Result(name, status, message, time.perf_counter() - start))
    return results


def grade_file(chapter: str, path: str | Path) -> list[Result]:
    """Grade the student's file at ``path`` on every exercise of ``chapter``.

    If the file cannot be executed, every exercise gets status ``"error"`` with the reason.
    """
    chapter = normalise_chapter(chapter)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or Path, got {type(path).__name__}")
    try:
        module = load_student_module(path)
    except FileNotFoundError:
        raise
    except Exception as err:  # noqa: BLE001 - a syntax error in the file is a verdict
        message = f"could not run {path}: {type(err).__name__}: {_one_line(str(err))}"
        return [Result(f"{chapter}.{e}", "error", message, 0.0) for e in exercise_names(chapter)]
    return grade_module(chapter, module)


def format_table(results: list[Result]) -> str:
    """A plain-text table: exercise, result, message (the whole message, on one line)."""
    if isinstance(results, (str, bytes)) or not hasattr(results, "__iter__"):
        raise TypeError(f"results must be a list of Result, got {type(results).__name__}")
    results = list(results)
    if not all(isinstance(r, Result) for r in results):
        raise TypeError("results must be a list of Result (from grade_file / grade_module)")
    rows = [("exercise", "result", "message")]
    rows += [(r.exercise, r.status.upper(), _one_line(r.message)) for r in results]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    lines = [f"{a:<{w0}}  {b:<{w1}}  {c}".rstrip() for a, b, c in rows]
    lines.insert(1, f"{'-' * w0}  {'-' * w1}  {'-' * 40}")
    passed = sum(r.passed for r in results)
    lines.append(f"\n{passed}/{len(results)} exercises pass")
    return "\n".join(lines)


def to_json(chapter: str, path: str | Path, results: list[Result]) -> str:
    return json.dumps(
        {
            "chapter": chapter,
            "file": str(path),
            "passed": sum(r.passed for r in results),
            "total": len(results),
            "ok": all(r.passed for r in results),
            "results": [{**asdict(r), "passed": r.passed} for r in results],
        },
        indent=2,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m creditlab.check",
        description="Grade every exercise of one chapter found in a student's Python file.",
        epilog="Exit status: 0 all pass, 1 any exercise fails or is missing, 2 usage error.",
    )
    parser.add_argument("chapter", help="chapter, e.g. ch01 (or 1)")
    parser.add_argument("file", help="the student's .py file, with functions named like the "
                        "stubs in creditlab/exercises/chNN.py")
    parser.add_argument("--json", action="store_true", help="print JSON (for autograders)")
    if argv is not None and (isinstance(argv, (str, bytes)) or not hasattr(argv, "__iter__")
                             or not all(isinstance(a, str) for a in argv)):
        raise TypeError(f"argv must be a list of str or None, got {argv!r}")
    args = parser.parse_args(argv)
    try:
        chapter = normalise_chapter(args.chapter)
        results = grade_file(chapter, args.file)
    except (KeyError, FileNotFoundError) as err:
        message = err.args[0] if err.args else str(err)
        parser.exit(2, f"{parser.prog}: error: {message}\n")
    if args.json:
        print(to_json(chapter, args.file, results))
    else:
        print(f"{chapter}: {args.file}\n")
        print(format_table(results))
    return 0 if all(r.passed for r in results) else 1
