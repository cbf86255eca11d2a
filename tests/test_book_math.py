"""Math in the book's Markdown parses as math: no dollar sign is left over as text.

MyST's dollarmath needs a blank line around a ``$$`` block; written right after a line of
text ("halves:\\n$$ ... $$\\nOn a ...") the inside is typeset as inline math and the outer
dollars show up on the page. ``make check-html`` catches it in the built book (rule
``raw-tex``, "stray $"); this test catches it in the sources, in a second.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

BOOK = Path(__file__).resolve().parents[1] / "book"
SOURCES = sorted(p for p in [*BOOK.glob("**/*.ipynb"), *BOOK.glob("**/*.md")]
                 if "_build" not in p.parts and ".ipynb_checkpoints" not in p.parts)
STRAY = re.compile(r"\$(?![\d.,])")  # a price ($5) is text, not math
MD = MarkdownIt("commonmark").use(dollarmath_plugin).enable("table")


def markdown_of(path: Path) -> list[str]:
    if path.suffix == ".md":
        return [path.read_text()]
    cells = json.loads(path.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]


def stray_dollars(markdown: str) -> list[str]:
    return [child.content for tok in MD.parse(markdown) for child in (tok.children or [])
            if child.type == "text" and STRAY.search(child.content)]


def test_the_rule_itself():
    assert stray_dollars("centres both halves:\n$$\nx = 1\n$$\nOn a failed one") != []
    assert stray_dollars("centres both halves:\n\n$$\nx = 1\n$$\n\nOn a failed one") == []
    assert stray_dollars("inline $x^2$ and a price of $5.") == []


def test_sources_found():
    assert any(p.suffix == ".ipynb" for p in SOURCES)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(BOOK)))
def test_no_dollar_left_as_text(path):
    bad = [s for md in markdown_of(path) for s in stray_dollars(md)]
    assert not bad, (f"{path.name}: '$' left as text (a $$ block needs a blank line before "
                     f"and after it): {[b[:60] for b in bad]}")
