"""tools/run_book.py: every chapter is listed, failures are reported, and what it caches is
what the book build looks up (jupyter-cache keys notebooks on their code and metadata)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="nbformat comes with the [test] extra")

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("run_book", REPO / "tools" / "run_book.py")
run_book = importlib.util.module_from_spec(spec)
sys.modules["run_book"] = run_book  # ProcessPoolExecutor pickles run_book.execute by name
spec.loader.exec_module(run_book)


def notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# 0. A test chapter")]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)
    return path


def test_the_toc_lists_every_chapter_notebook():
    book = REPO / "book"
    on_disk = {p.resolve() for g in ("part*/*.ipynb", "appendix/*.ipynb") for p in book.glob(g)}
    assert on_disk, "no chapter notebooks found"
    assert set(run_book.toc_notebooks()) == on_disk


def test_library_key_follows_the_library_sources():
    key = run_book.library_key()
    assert key == run_book.library_key()
    assert len(key) == 64


def test_a_run_caches_passing_chapters_and_reports_failing_ones(tmp_path, capsys):
    ok = notebook(tmp_path / "ok.ipynb", "x = 21 * 2", "assert x == 42\nprint(x)")
    bad = notebook(tmp_path / "bad.ipynb", "assert 1 + 1 == 3, 'the claim does not hold'")
    cache = tmp_path / "cache"
    rc = run_book.main([str(ok), str(bad), "--cache", str(cache), "--jobs", "2"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "the claim does not hold" in out
    assert "notebooks: 1 passed, 1 failed" in out
    # the build looks up the *source* notebook (no outputs): it must find the executed one
    from jupyter_cache import get_cache

    c = get_cache(str(cache))
    record = c.match_cache_notebook(nbformat.read(ok, 4))
    executed = c.get_cache_bundle(record.pk).nb
    printed = [o.get("text") for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    assert printed == ["42\n"]
    with pytest.raises(KeyError):
        c.match_cache_notebook(nbformat.read(bad, 4))
    # a second run executes nothing that is cached
    assert run_book.main([str(ok), "--cache", str(cache)]) == 0
    out = capsys.readouterr().out
    assert "cached" in out and "executing 0 of 1" in out


def test_over_budget_fails(tmp_path, capsys):
    slow = notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(1.5)")
    rc = run_book.main([str(slow), "--cache", str(tmp_path / "c"), "--budget", "1"])
    assert rc == 1
    assert "over its 1 s budget" in capsys.readouterr().out
