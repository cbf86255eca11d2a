"""One module per chapter with its exercise checks.

A module ``chNN.py`` here defines

- ``INVARIANTS``: ``{"<exercise>": check(fn) -> None}``, raising AssertionError with a
  message a student can act on (use :func:`creditlab.exercises.check.call`);
- ``make_cases() -> dict[str, np.ndarray]``: the stored answers, keyed
  ``"<exercise>/<case>/<argument>"`` plus ``"<exercise>/<case>/expected"``, computed from
  the library's reference implementations (never from ``creditlab.solutions``).

``python -m creditlab.exercises.make_data`` writes every chapter's ``data/chNN.npz``.
"""
