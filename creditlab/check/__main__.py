"""``python -m creditlab.check chNN student.py [--json]``: see :mod:`creditlab.exercises.grade`."""

import sys

from creditlab.exercises.grade import main

if __name__ == "__main__":
    sys.exit(main())
