"""Write the stored answers the exercise checks grade against (run after changing them).

    python -m creditlab.exercises.make_data

Each chapter's answers come from ``creditlab.exercises.checks.<chapter>.make_cases``,
which uses the library's reference implementations, never the solutions.
"""

from __future__ import annotations

import numpy as np

from creditlab.exercises.check import DATA, chapters, checks_module


def main() -> None:
    DATA.mkdir(exist_ok=True)
    for chapter in chapters():
        path = DATA / f"{chapter}.npz"
        np.savez_compressed(path, **checks_module(chapter).make_cases())
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
