"""tools/check_html.py's detection logic on small synthetic pages (no Chromium needed)."""

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("bs4")

_PATH = Path(__file__).resolve().parent.parent / "tools" / "check_html.py"
_spec = importlib.util.spec_from_file_location("check_html", _PATH)
ch = importlib.util.module_from_spec(_spec)
sys.modules["check_html"] = ch
_spec.loader.exec_module(ch)


def page(body: str) -> str:
    return f"<html><head><title>t</title></head><body>{body}</body></html>"


def output(inner: str, cls: str = "output text_plain") -> str:
    """A code cell as myst-nb renders it: input, then one output."""
    return ('<div class="cell docutils container"><div class="cell_input docutils container">'
            '<div class="highlight-ipython3 notranslate"><pre>x = 1</pre></div></div>'
            f'<div class="cell_output docutils container"><div class="{cls}">{inner}</div>'
            "</div></div>")


def rules(html: str, **kw) -> list[str]:
    kw.setdefault("numbered", kw.get("chapter", False))
    return sorted({f.rule for f in ch.check_dom(page(html), "p.html", **kw)})


TYPESET = ('<span class="math notranslate nohighlight"><mjx-container class="MathJax">'
           '<mjx-assistive-mml><math><mi>x</mi></math></mjx-assistive-mml></mjx-container>'
           "</span>")


def test_clean_page_has_no_findings():
    html = (f"<p>The return {TYPESET} is a sum. It costs $5 and $6.</p>"
            + output("<pre>accuracy 0.93</pre>")
            + '<div class="cell_output"><table><tr><td>a</td></tr></table></div>')
    assert rules(html) == []


def test_mathjax_error_and_untypeset_math():
    err = ('<span class="math"><mjx-container><mjx-merror data-mjx-error="Undefined control '
           'sequence \\foo"></mjx-merror></mjx-container></span>')
    assert rules(err) == ["mathjax-error"]
    raw = r'<p>score <span class="math notranslate nohighlight">\(r_k \in [-1, 1]\)</span></p>'
    assert rules(raw) == ["mathjax-error"]  # reported once, not again as raw-tex


@pytest.mark.parametrize("text", [r"\(x\)", r"\[x^2\]", "$$x$$", r"\begin{align}",
                                  r"gain $\gamma^k r$ here"])
def test_raw_tex_in_prose(text):
    assert rules(f"<p>{text}</p>") == ["raw-tex"]


def test_stray_dollar_around_typeset_math():
    # "halves:\n$$\n...\n$$\nOn a failed ..." without blank lines: the inside is typeset as
    # inline math and the outer dollars are left in the text
    html = f"<p>ReNorm centres both halves:\n${TYPESET}$. The judge can still rank</p>"
    assert rules(html) == ["raw-tex"]


def test_tex_in_code_is_not_raw_tex():
    html = (r'<div class="cell_input"><pre>ax.set_xlabel(r"$\lambda$")</pre></div>'
            r"<p><code>$\alpha$</code> and a price of $3.</p>")
    assert rules(html) == []


def test_raw_markdown_table_in_output():
    table = "| arm | accuracy |\n|---|---:|\n| raw | 0.5 |"
    assert rules(output(f"<pre>{table}</pre>")) == ["raw-table"]
    # myst-nb's commonmark rendering: the table as one paragraph
    assert rules(output(f"<p>{table}</p>", "output text_markdown")) == ["raw-table"]
    # commonmark's typographer turns the rule's "---" into an em dash
    dashed = "| event | score |\n|\u2014|\u2014|\n| work | +0.80 |"
    assert rules(output(f"<p>{dashed}</p>", "output text_markdown")) == ["raw-table"]
    # a real table, and prose with pipes, are not raw tables
    assert rules(output("<p>a | b</p><p>|x| is the norm</p>")) == []
    # the source that builds a table is not a raw table
    src = f'<div class="cell_input"><pre>print("""{table}""")</pre></div>'
    assert rules(src) == []


def test_warning_and_machine_path():
    warn = ("/root/x/.venv/lib/python3.11/site-packages/tqdm/auto.py:21: TqdmWarning: "
            "IProgress not found. Please update jupyter and ipywidgets.")
    assert rules(output(f"<pre>{warn}</pre>")) == ["warning"]
    msgs = [str(f) for f in ch.check_dom(page(output(f"<pre>{warn}</pre>")), "p.html")]
    assert any("machine path" in m for m in msgs)
    assert any("TqdmWarning" in m for m in msgs)
    assert rules(output("<pre>hello</pre>", "output stderr")) == ["warning"]
    assert rules(output("<pre>saved to /tmp/run/out.json</pre>")) == ["warning"]


def test_progress_trail():
    lines = "\n".join(f"runs:  {p}%|▋         | {i}/32 [00:0{i}<00:30,  1.0s/it]"
                      for i, p in enumerate((3, 6, 9), 1))
    assert rules(output(f"<pre>{lines}</pre>")) == ["progress-trail"]
    one = "runs: 100%|██████████| 32/32 [00:30<00:00,  1.0it/s]"
    assert rules(output(f"<pre>{one}</pre>")) == []
    cr = "runs:  3%|▋ | 1/32 [00:01<00:30]\rruns:  6%|▋ | 2/32 [00:02<00:30]"
    assert rules(output(f"<pre>{cr}</pre>")) == ["progress-trail"]


def test_traceback_and_error_output():
    tb = ("---------------------------------------------------------------------------\n"
          "ValueError                                Traceback (most recent call last)\n"
          "ValueError: bad")
    assert rules(output(f"<pre>{tb}</pre>", "output traceback")) == ["error-output"]
    assert rules(output("<pre>AssertionError: claim broken</pre>")) == ["error-output"]
    assert rules(output("<pre>mean squared error: 0.1</pre>")) == []


def test_object_repr():
    html = output("<pre>&lt;IPython.core.display.Markdown object&gt;</pre>")
    assert rules(html) == ["object-repr"]
    gen = output("<pre>&lt;torch._C.Generator at 0x7f6dea3a86b0&gt;</pre>")
    assert rules(gen) == ["object-repr"]
    assert rules(output("<pre>&lt;Figure size 640x480 with 1 Axes&gt;</pre>")) == []


def test_chapter_title_and_empty_chapter():
    body = "<p>" + "words " * 200 + "</p>"
    good = f'<article class="bd-article"><h1>5. Min-form credit<a>#</a></h1>{body}</article>'
    assert rules(good, chapter=True) == []
    assert rules(good) == []
    sub = f'<article class="bd-article"><h1>5.1 The idea</h1>{body}</article>'
    assert rules(sub, chapter=True) == ["chapter-title"]
    # the numbering rule is for chNN_ files; an appendix page only needs a title and text
    appendix = f'<article class="bd-article"><h1>Notation</h1>{body}</article>'
    assert ch.check_dom(page(appendix), "notation.html", chapter=True) == []
    assert [f.rule for f in ch.check_dom(page(appendix), "p1/ch02_x.html",
                                         chapter=True)] == ["chapter-title"]
    assert rules('<article class="bd-article"><h1>5. Empty</h1></article>',
                 chapter=True) == ["empty-chapter"]
    assert rules(f'<article class="bd-article">{body}</article>',
                 chapter=True) == ["empty-chapter"]


def test_links_anchors_images_resources():
    pages = {
        "index.html": page('<a href="part1/ch01.html#sec">ok</a>'
                           '<a href="part1/ch01.html#nope">bad anchor</a>'
                           '<a href="missing.html">missing</a>'
                           '<a href="https://example.org/">external, not checked</a>'
                           '<a href="#top">self</a><div id="top"></div>'
                           '<img src="_images/a.png"><img src="_images/gone.png">'
                           '<img src="data:image/png;base64,AAAA">'
                           '<script src="_static/mathjax/tex-svg.js"></script>'
                           '<script src="https://cdn.example.org/mathjax.js"></script>'
                           '<link rel="stylesheet" href="_static/gone.css">'),
        "part1/ch01.html": page('<h2 id="sec">s</h2><a href="../index.html">up</a>'),
    }
    files = {"index.html", "part1/ch01.html", "_images/a.png", "_static/mathjax/tex-svg.js"}

    def anchors(path):
        return ch.anchors(pages[path]) if path in pages else None

    found = ch.check_links(pages, files.__contains__, anchors)
    got = sorted((f.page, f.rule, f.detail.split(" ")[0]) for f in found)
    assert got == [
        ("index.html", "broken-link", "missing.html"),
        ("index.html", "broken-link", "part1/ch01.html#nope"),
        ("index.html", "missing-image", "_images/gone.png"),
        ("index.html", "missing-resource", "_static/gone.css"),
        ("index.html", "network", "<script>"),
    ]


def test_browser_events():
    events = {"network": ["https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"],
              "failed": ["file:///b/_static/x.woff (net::ERR_FILE_NOT_FOUND)"],
              "exceptions": ["ReferenceError: MathJax is not defined"],
              "broken_images": ["_images/x.png"]}
    got = sorted(f.rule for f in ch.check_events("p.html", events))
    assert got == ["js-error", "missing-image", "missing-resource", "network"]
    assert ch.check_events("p.html", {}) == []


def test_toc_pages(tmp_path):
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nparts:\n  - caption: P\n    chapters:\n"
        "      - file: part1/ch01_a\n      - file: part2/ch05_b.ipynb\n")
    assert ch.toc_pages(tmp_path) == ("intro.html", ["part1/ch01_a.html", "part2/ch05_b.html"])


def test_redirect_target():
    html = '<html><head><meta http-equiv="Refresh" content="0; url=intro.html" /></head></html>'
    assert ch.redirect_target(html) == "intro.html"
    assert ch.redirect_target(page("<p>no redirect</p>")) is None


def test_html_pages_are_the_last_builds(tmp_path):
    for name in ("index.html", "intro.html", "search.html", "p1/ch01.html", "p6/old_ch07.html"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(page("x"))
    (tmp_path / "searchindex.js").write_text(
        'Search.setIndex({"docnames": ["intro", "p1/ch01"], "titles": []})')
    assert ch.html_pages(tmp_path) == ["index.html", "intro.html", "p1/ch01.html",
                                       "search.html"]


def test_widget_output():
    w = ('<script type="application/vnd.jupyter.widget-view+json">'
         '{"version_major": 2, "model_id": "abc"}</script>')
    assert rules(f'<div class="cell_output">{w}</div>') == ["widget"]
