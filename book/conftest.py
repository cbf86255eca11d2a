"""pytest settings for running the book with nbval (``pytest --nbval-lax book/``).

The HTML build leaves executed copies of every chapter under ``_build/``; pytest does not
skip ``_build`` by default, so without this the chapters would be collected twice.
"""

collect_ignore_glob = ["_build/*", "_build/**/*"]
