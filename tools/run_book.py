"""Execute the book's notebooks once, in parallel, into the cache the HTML build reads.

    python tools/run_book.py                  # every chapter in book/_toc.yml
    python tools/run_book.py --jobs 1 book/part1_foundations/ch01_returns_and_advantages.ipynb

Each chapter notebook runs top to bottom in a fresh kernel (cwd = its folder), like nbval
and jupyter-book would run it. A chapter fails when a cell raises (its claims are checked
by ``assert``) or when it takes longer than its time budget (``--budget``, default 150 s:
../shared/CHAPTER.md). Executed notebooks are stored in jupyter-cache under
``book/_build/.jupyter_cache``, the cache that ``jupyter-book build`` reads with
``execute_notebooks: cache`` (book/_config.yml), so ``make test`` then ``make book``
executes each notebook once. jupyter-cache keys a notebook on its code; this script also
keys the whole cache on the library's sources (creditlab/, csrc/, setup.py) and empties it
when they change, so a cached chapter never shows what an older library computed.

Exit status: 0 when every chapter ran within its budget, 1 otherwise (each failure is
printed with the failing cell and its traceback).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BOOK = REPO / "book"
CACHE = BOOK / "_build" / ".jupyter_cache"
KEY_FILE = "creditlab-library-key"
LIBRARY = ["creditlab/**/*.py", "creditlab/**/*.npz", "csrc/**/*", "setup.py", "CMakeLists.txt"]


def toc_notebooks(toc: Path = BOOK / "_toc.yml") -> list[Path]:
    """The notebooks that ``toc`` lists (files without a suffix that exist as .ipynb)."""
    import yaml

    found: list[Path] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            f = node.get("file")
            if isinstance(f, str) and (BOOK / f"{f}.ipynb").exists():
                found.append(BOOK / f"{f}.ipynb")
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(yaml.safe_load(toc.read_text()))
    return found


def library_key() -> str:
    """A hash of every file the notebooks' results depend on besides the notebook itself."""
    h = hashlib.sha256()
    files = sorted({p for pattern in LIBRARY for p in REPO.glob(pattern) if p.is_file()})
    for p in files:
        h.update(str(p.relative_to(REPO)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def open_cache(path: Path = CACHE):  # noqa: ANN201
    """The jupyter-cache at ``path``, emptied first if the library changed since it was filled."""
    from jupyter_cache import get_cache

    cache = get_cache(str(path))
    key = library_key()
    stamp = path / KEY_FILE
    if not stamp.exists() or stamp.read_text() != key:
        if stamp.exists():
            print("library sources changed: emptying the notebook cache", flush=True)
        cache.clear_cache()
        path.mkdir(parents=True, exist_ok=True)
        stamp.write_text(key)
    return cache


def execute(path: str, timeout: int) -> tuple[str, float, object, str | None]:
    """Run one notebook in a fresh kernel of this Python; (path, seconds, executed, error)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    kernelspec = copy.deepcopy(nb.metadata.get("kernelspec"))
    # record_timing=False: jupyter-cache hashes cell metadata, and timestamps there would
    # make the executed notebook miss the build's look-up of the source notebook
    # coalesce_streams: a progress bar that redraws with \r keeps only its last state
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            coalesce_streams=True,
                            resources={"metadata": {"path": str(Path(path).parent)}})
    t0 = time.perf_counter()
    error = None
    try:
        client.execute()
    except CellExecutionError as err:
        error = str(err)
    except Exception as err:  # a dead kernel, a timeout: the chapter failed all the same
        error = f"{type(err).__name__}: {err}"
    seconds = time.perf_counter() - t0
    if kernelspec is not None:  # jupyter-cache hashes the kernelspec: keep the source's
        nb.metadata["kernelspec"] = kernelspec
    return path, seconds, nb, error


def _show(p: Path) -> str:
    return str(p.relative_to(REPO)) if p.is_relative_to(REPO) else str(p)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="default: every chapter in _toc.yml")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                    help="notebooks run at once (default: 2, or 1 on a 1-core machine)")
    ap.add_argument("--budget", type=float,
                    default=float(os.environ.get("CREDITLAB_NOTEBOOK_BUDGET_S", "150")),
                    help="seconds a chapter may take (default 150, or "
                         "$CREDITLAB_NOTEBOOK_BUDGET_S)")
    ap.add_argument("--timeout", type=int, default=300, help="seconds a cell may take")
    ap.add_argument("--force", action="store_true", help="execute even what is cached")
    ap.add_argument("--cache", type=Path, default=CACHE, help=f"default {CACHE.relative_to(REPO)}")
    args = ap.parse_args(argv)
    # The kernels inherit this: creditlab.progress then draws no widget or live bar, only a
    # final line, so the cached outputs that the HTML book shows carry no progress trails
    # (jupyter-cache does not key on the environment, so it is set here, not left to make).
    os.environ.setdefault("CREDITLAB_PROGRESS", "off")

    import nbformat
    from jupyter_cache.base import CacheBundleIn

    notebooks = [p.resolve() for p in args.notebooks] or toc_notebooks()
    cache = open_cache(args.cache)
    todo = []
    for p in notebooks:
        try:
            hit = None if args.force else cache.match_cache_notebook(nbformat.read(p, 4))
        except KeyError:
            hit = None
        if hit is None:
            todo.append(p)
        else:
            print(f"  cached   {_show(p)}", flush=True)
    print(f"executing {len(todo)} of {len(notebooks)} notebooks, {args.jobs} at a time, "
          f"budget {args.budget:.0f} s each", flush=True)
    t0 = time.perf_counter()
    failed: list[str] = []
    times: dict[str, float] = {}
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(execute, str(p), args.timeout) for p in todo]
        for fut in as_completed(futures):
            path, seconds, nb, error = fut.result()
            rel = _show(Path(path))
            times[rel] = seconds
            over = seconds > args.budget
            verdict = "FAILED" if error else ("OVER BUDGET" if over else "ok")
            print(f"  {seconds:6.1f} s  {verdict:11s} {rel}", flush=True)
            if error:
                failed.append(rel)
                print(error, flush=True)
            elif over:
                failed.append(rel)
                print(f"{rel} took {seconds:.1f} s, over its {args.budget:.0f} s budget",
                      flush=True)
            else:
                cache.cache_notebook_bundle(
                    CacheBundleIn(nb, path, data={"execution_seconds": seconds}),
                    check_validity=False, overwrite=True)
    wall = time.perf_counter() - t0
    print(f"{len(notebooks) - len(todo)} cached; {sum(times.values()):.0f} s of notebook "
          f"time in {wall:.0f} s wall", flush=True)
    for rel in failed:
        print(f"FAILED {rel}", flush=True)
    if todo:  # a pass/fail line only for what ran (CI reads it as a test runner's summary)
        print(f"notebooks: {len(todo) - len(failed)} passed, {len(failed)} failed", flush=True)
    else:
        print(f"notebooks: none executed, all {len(notebooks)} from the cache", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
