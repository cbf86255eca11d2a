"""The Papers page, its data file and the bibliography agree (book/papers.yml is the source).

- every seed paper (1..55, the numbers of TOC.md) is in book/papers.yml, once;
- every written chapter it links is a notebook listed in book/_toc.yml, and exists;
- book/references.bib holds every key it names, tagged with the paper's seed number;
- every {cite} role in the book names a key of book/references.bib;
- book/papers.md is exactly what tools/make_papers_page.py writes.
If ../shared/TOC.md is present (the planning checkout), the chapter of every paper is
also checked against it.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
N_SEED_PAPERS = 55


def _load_tool():
    spec = importlib.util.spec_from_file_location("make_papers_page",
                                                  ROOT / "tools" / "make_papers_page.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = _load_tool()
DATA = tool.load_data()
BIB = tool.bib_entries()
TOC_FILES = tool.toc_files()


def test_every_seed_paper_is_in_the_data_file():
    numbers = sorted(p["n"] for p in DATA["papers"])
    assert numbers == list(range(1, N_SEED_PAPERS + 1))


def test_written_chapters_exist_in_the_table_of_contents():
    written = {n: c for n, c in DATA["chapters"].items() if c.get("slug")}
    assert written, "no written chapter"
    for n, chapter in written.items():
        doc = tool.chapter_doc(n, chapter, TOC_FILES)
        assert doc in TOC_FILES
        assert (BOOK / f"{doc}.ipynb").is_file(), doc
    for paper in DATA["papers"]:
        written_chapter = paper["chapter"] in written
        assert paper["status"] == ("written" if written_chapter else "planned"), paper["n"]
        for ch in paper.get("also", []):
            assert ch in written, f"[{paper['n']}] links chapter {ch}, which is not written"


def test_bibliography_holds_every_key():
    for paper in DATA["papers"]:
        assert paper["key"] in BIB, paper["key"]
        assert f"seed-{paper['n']:02d}" in BIB[paper["key"]]["keywords"], paper["key"]
    seeds = [e for e in BIB.values() if "seed-" in e["keywords"]]
    assert len(seeds) == N_SEED_PAPERS


def test_no_problems_reported_by_the_generator():
    assert tool.problems(DATA, BIB, TOC_FILES) == []


def _book_sources():
    for path in sorted(BOOK.rglob("*")):
        if "_build" in path.parts or ".ipynb_checkpoints" in path.parts:
            continue
        if path.suffix == ".md":
            yield path, path.read_text()
        elif path.suffix == ".ipynb":
            cells = json.loads(path.read_text())["cells"]
            yield path, "\n".join("".join(c["source"]) for c in cells
                                  if c["cell_type"] == "markdown")


def test_every_citation_resolves():
    """{cite:t}`key`, {cite:p}`a,b`, with the chapter's bibliography keyprefix stripped."""
    for path, text in _book_sources():
        prefixes = re.findall(r":keyprefix:\s*(\S+)", text)
        for keys in re.findall(r"\{(?:foot)?cite(?::\w+)?\}`([^`]+)`", text):
            for key in (k.strip() for k in keys.split(",")):
                for prefix in prefixes:
                    key = key.removeprefix(prefix)
                assert key in BIB, f"{path.relative_to(ROOT)} cites {key!r}, not in references.bib"


def test_papers_page_is_current():
    assert (BOOK / "papers.md").read_text() == tool.render(DATA, TOC_FILES), (
        "book/papers.md is out of date: run python tools/make_papers_page.py")
    assert tool.main(["--check"]) == 0


def test_papers_page_links_every_paper_once():
    page = (BOOK / "papers.md").read_text()
    for paper in DATA["papers"]:
        assert page.count(f"| [{paper['n']}] |") == 1
        assert f"`{paper['key']}`" in page
    for n, chapter in DATA["chapters"].items():
        if not chapter.get("slug") and any(p["chapter"] == n for p in DATA["papers"]):
            assert f"planned: chapter {n}" in page


SHARED_TOC = ROOT.parent / "shared" / "TOC.md"


@pytest.mark.skipif(not SHARED_TOC.is_file(), reason="no ../shared/TOC.md in this checkout")
def test_chapters_agree_with_the_planning_toc():
    toc_chapter = {}
    for line in SHARED_TOC.read_text().splitlines():
        m = re.match(r"\|\s*(\d+)\s*\|", line)
        if m:
            for n in re.findall(r"\[(\d+)\]", line.split("|")[3]):
                toc_chapter[int(n)] = int(m.group(1))
    assert len(toc_chapter) == N_SEED_PAPERS
    assert {p["n"]: p["chapter"] for p in DATA["papers"]} == toc_chapter
