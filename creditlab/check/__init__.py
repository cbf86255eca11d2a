"""``creditlab.check``: grade exercises, one function or a whole file.

In a notebook, grade one function::

    import creditlab
    creditlab.check("ch01.gae", my_gae)

From a shell, grade every exercise of a chapter found in a student's file::

    python -m creditlab.check ch01 path/to/student_module.py [--json]

``creditlab.check`` is this module, made callable: calling it calls
:func:`creditlab.exercises.check.check`. (A package, rather than the plain function, so
that ``python -m creditlab.check`` exists; importing it never replaces the callable.)
"""

from __future__ import annotations

import sys
import types
from typing import Any

from creditlab.exercises.check import chapters, check, exercises
from creditlab.exercises.grade import Result, format_table, grade_file, grade_module, main

__all__ = [
    "Result",
    "chapters",
    "check",
    "exercises",
    "format_table",
    "grade_file",
    "grade_module",
    "main",
]


class _CallableModule(types.ModuleType):
    """The module ``creditlab.check``; ``creditlab.check(name, fn)`` grades ``fn``."""

    def __call__(self, name: str, fn: Any = None, *, verbose: bool = True) -> bool:
        return check(name, fn, verbose=verbose)


sys.modules[__name__].__class__ = _CallableModule
