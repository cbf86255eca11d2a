"""Write book/papers.md (the "Papers" page) from book/papers.yml, its only source.

    python tools/make_papers_page.py           # rewrite book/papers.md
    python tools/make_papers_page.py --check   # exit 1 if book/papers.md is out of date

Every paper must have a key in book/references.bib and every written chapter a notebook in
book/_toc.yml (found by its slug: chNN_<slug>); the script refuses to write a page that
names anything missing. tests/test_book_papers.py runs the same checks and --check.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
DATA = BOOK / "papers.yml"
PAGE = BOOK / "papers.md"
BIB = BOOK / "references.bib"
TOC = BOOK / "_toc.yml"

FIDELITY = {
    "exact": "exact",
    "X-style": "**X-style**",
    "survey": "survey",
}


def load_data(path: Path = DATA) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def bib_entries(path: Path = BIB) -> dict[str, dict[str, str]]:
    """``{key: {"type": ..., "keywords": ...}}`` for every entry of a .bib file."""
    text = path.read_text()
    out: dict[str, dict[str, str]] = {}
    for m in re.finditer(r"^@(\w+)\{([^,\s]+),(.*?)^\}", text, re.M | re.S):
        kw = re.search(r"^\s*keywords\s*=\s*\{([^}]*)\}", m.group(3), re.M)
        out[m.group(2)] = {"type": m.group(1).lower(), "keywords": kw.group(1) if kw else ""}
    return out


def toc_files(path: Path = TOC) -> list[str]:
    """Every ``file:`` entry of a jupyter-book _toc.yml, in order."""
    files: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "file" in node:
                files.append(str(node["file"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    toc = yaml.safe_load(path.read_text())
    if "root" in toc:
        files.append(str(toc["root"]))
    walk(toc)
    return files


def chapter_doc(number: int, chapter: dict[str, Any], files: list[str]) -> str | None:
    """The docname of a written chapter (``part1_.../ch01_slug``), None if not written."""
    slug = chapter.get("slug")
    if not slug:
        return None
    matches = [f for f in files if re.fullmatch(rf"ch\d+_{re.escape(slug)}", Path(f).name)]
    if len(matches) != 1:
        raise ValueError(f"chapter {number} (slug {slug!r}): expected one notebook chNN_{slug} "
                         f"in {TOC.relative_to(ROOT)}, found {matches or 'none'}")
    return matches[0]


def problems(data: dict[str, Any], bib: dict[str, dict[str, str]], files: list[str],
             book: Path = BOOK) -> list[str]:
    """Everything wrong with the data file, as messages (empty when all is well)."""
    out = []
    chapters = data["chapters"]
    numbers = [p["n"] for p in data["papers"]]
    if sorted(numbers) != list(range(1, len(numbers) + 1)):
        out.append(f"papers must be numbered 1..N once each, got {sorted(numbers)}")
    for number, chapter in chapters.items():
        try:
            doc = chapter_doc(number, chapter, files)
        except ValueError as err:
            out.append(str(err))
            continue
        if doc and not (book / f"{doc}.ipynb").is_file() and not (book / f"{doc}.md").is_file():
            out.append(f"chapter {number}: {doc} is in the table of contents but not on disk")
    for paper in data["papers"]:
        n, key = paper["n"], paper["key"]
        if key not in bib:
            out.append(f"[{n}] key {key!r} is not in {BIB.name}")
        elif f"seed-{n:02d}" not in bib[key]["keywords"]:
            out.append(f"[{n}] {key}: its bib entry must have keywords = {{seed-{n:02d}}}")
        if paper["fidelity"] not in FIDELITY:
            out.append(f"[{n}] fidelity must be one of {list(FIDELITY)}")
        for field in ("short", "departure", "shows", "status"):
            if not str(paper.get(field, "")).strip():
                out.append(f"[{n}] missing {field!r}")
        for ch in [paper["chapter"], *paper.get("also", [])]:
            if ch not in chapters:
                out.append(f"[{n}] chapter {ch} is not one of the book's chapters")
        written = bool(chapters.get(paper["chapter"], {}).get("slug"))
        if paper["status"] != ("written" if written else "planned"):
            out.append(f"[{n}] status {paper['status']!r} but chapter {paper['chapter']} is "
                       f"{'written' if written else 'not written'}")
        if written and not paper.get("section"):
            out.append(f"[{n}] a written paper needs its section")
    seeds = {kw for e in bib.values() for kw in e["keywords"].split(",") if kw.startswith("seed-")}
    if len(seeds) != len(numbers):
        out.append(f"{BIB.name} tags {len(seeds)} entries as seed papers, papers.yml has "
                   f"{len(numbers)}")
    return out


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def render(data: dict[str, Any], files: list[str]) -> str:
    chapters = data["chapters"]
    docs = {n: chapter_doc(n, c, files) for n, c in chapters.items()}

    def chapter_link(n: int) -> str:
        return f"{{doc}}`Chapter {n} </{docs[n]}>`" if docs[n] else f"planned: chapter {n}"

    papers = sorted(data["papers"], key=lambda p: (p["chapter"], p["n"]))
    n_written = sum(p["status"] == "written" for p in papers)
    written_chapters = ", ".join(str(n) for n in chapters if docs[n])
    lines = [
        "<!-- Generated by tools/make_papers_page.py from book/papers.yml: do not edit. -->",
        "",
        "(papers)=",
        "# Papers",
        "",
        f"Every one of the book's {len(papers)} seed papers, with the chapter that teaches it, "
        "what the book shows about it (the claim its notebook asserts, or plans to assert) "
        "and how close our version is to the paper. **exact**: the paper's mechanism as "
        "published, run on a small stand-in task. **X-style**: our version departs from the "
        "paper's algorithm, and the entry names the departure. **survey**: a survey, thesis or "
        "benchmark; the chapter illustrates one of its principles.",
        "",
        f"{n_written} papers are taught in the chapters written so far ({written_chapters}); "
        f"the other {len(papers) - n_written} say which planned chapter will teach them. "
        "Full references are in the {doc}`bibliography </bibliography>`; the symbols in the "
        "{doc}`notation appendix </notation>`.",
        "",
        "This page is generated from `book/papers.yml` by `tools/make_papers_page.py`, and a "
        "test checks that it is current, that every paper has a bibliography entry and that "
        "every written chapter it names exists.",
    ]
    for part, title in data["parts"].items():
        rows = [p for p in papers if chapters[p["chapter"]]["part"] == part]
        if not rows:
            continue
        lines += ["", f"## Part {part}: {title}", "",
                  "| | paper | chapter | what the book shows | our version |",
                  "|---|---|---|---|---|"]
        for p in rows:
            where = chapter_link(p["chapter"])
            if p.get("section"):
                where += f", {_cell(p['section'])}"
            if p.get("also"):
                where += "; also " + ", ".join(chapter_link(c) for c in p["also"])
            version = f"{FIDELITY[p['fidelity']]}: {_cell(p['departure'])}"
            lines.append(
                f"| [{p['n']}] | **{_cell(p['short'])}**, {{cite:t}}`{p['key']}` | {where} "
                f"| {_cell(p['shows'])} | {version} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 if {PAGE.relative_to(ROOT)} is not what would be written")
    args = parser.parse_args(argv)
    data, files = load_data(), toc_files()
    errors = problems(data, bib_entries(), files)
    if errors:
        print("book/papers.yml has problems:\n  " + "\n  ".join(errors), file=sys.stderr)
        return 1
    page = render(data, files)
    if args.check:
        if not PAGE.is_file() or PAGE.read_text() != page:
            print(f"{PAGE.relative_to(ROOT)} is out of date: run python "
                  "tools/make_papers_page.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(page)
    print(f"wrote {PAGE.relative_to(ROOT)} ({len(data['papers'])} papers)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
