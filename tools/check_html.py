"""Open every page of the built HTML book in headless Chromium, offline, and check it.

    python tools/check_html.py [book/_build/html] [--screenshots DIR] [--full-page]

Chromium (Debian's ``chromium``) runs with the network off: every http(s) request goes to
a dead proxy and every host name fails to resolve, and any request that leaves the book is
itself a finding. Each page is loaded from disk (file://, as a reader opens
``book/_build/html/index.html``), its JavaScript runs and MathJax finishes typesetting,
and then the page's DOM is checked. The checker fails (exit 1) on:

* ``mathjax-error``     a MathJax error node, or math that MathJax never typeset
* ``raw-tex``           TeX left as text in the page (``\\(``, ``$$``, ``\\begin{``, ...)
* ``raw-table``         a Markdown table shown as text (``| a | b |`` over ``|---|---|``)
* ``warning``           a warning, stderr output or a build machine's path in a cell output
* ``progress-trail``    more than one progress-bar line in one output
* ``error-output``      a Python traceback or error output in a cell
* ``widget``            a Jupyter widget in an output (it needs a CDN; nothing shows offline)
* ``object-repr``       an ``<... object>`` or ``<... at 0x...>`` repr (a stray value)
* ``missing-image``     an image whose file is missing or that the browser could not load
* ``broken-link``       an internal link to a missing page or to a missing anchor
* ``missing-resource``  a local script, stylesheet or font that failed to load
* ``network``           a request to the network (the book must work offline)
* ``js-error``          an uncaught JavaScript exception
* ``empty-chapter``     a chapter page with no title or almost no text
* ``chapter-title``     a numbered chapter (``chNN_<slug>``) whose title is not ``N. Title``
* ``load``              a page that did not finish loading (or MathJax never finished)

It saves one screenshot per chapter (and of the landing page) under
``book/_build/screenshots/``. The detection logic (everything but the browser) is plain
functions over HTML text, tested by tests/test_check_html.py without Chromium.
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import json
import os
import posixpath
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from bs4 import BeautifulSoup, NavigableString, Tag

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Finding:
    page: str
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.page}: [{self.rule}] {self.detail}"


# ----------------------------------------------------------------------------------------
# Detection on HTML text (no browser)
# ----------------------------------------------------------------------------------------

# Elements whose text is code or machinery, never prose or rendered output.
SKIP_TAGS = {"script", "style", "noscript", "textarea", "template", "head", "svg",
             "mjx-container", "mjx-assistive-mml", "math"}
CODE_TAGS = {"pre", "code", "kbd", "samp", "tt"}

TEX_PATTERNS = [
    (re.compile(r"\\\(.+?\\\)", re.S), r"\( ... \)"),
    (re.compile(r"\\\[.+?\\\]", re.S), r"\[ ... \]"),
    (re.compile(r"\$\$.+?\$\$", re.S), "$$ ... $$"),
    (re.compile(r"\\begin\{[A-Za-z]+\*?\}"), r"\begin{...}"),
    (re.compile(r"(?<![\w$\\])\$(?=\S)[^$\n]*\\[A-Za-z]+[^$\n]*(?<=\S)\$(?![\w$])"),
     "$ ... $"),
    # a dollar left over from display math the parser did not see ("text:\n$$ ... $$" with
    # no blank line typesets the inside as inline math and shows the outer dollars); a
    # price ($5) is not flagged
    (re.compile(r"\$(?![\d.,])"), "stray $"),
]
TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
# "---", or the dash a typographer made of it (commonmark with smartquotes: "|—|—|")
_RULE_CELL = r"\s*:?(?:-{3,}|[\u2013\u2014][-\u2013\u2014]*):?\s*"
TABLE_RULE = re.compile(rf"^\s*\|?{_RULE_CELL}(\|{_RULE_CELL})+\|?\s*$")
PROGRESS_LINE = re.compile(r"\d+%\|.*\||\|\s*\d+/\d+\s*\[\d|\d+/\d+\s*\[[\d:<?]+.*(it/s|s/it)")
WARNING_TEXT = re.compile(r"\b[A-Z]\w*Warning\b:|^\s*warnings\.warn\(", re.M)
MACHINE_PATH = re.compile(
    r"(?<![\w.:/~])/(?:home|root|work|tmp|usr|opt|var|private|Users|mnt|srv)/[^\s'\")]+"
    r"|site-packages|dist-packages|\.venv/|[A-Za-z]:\\Users\\")
TRACEBACK_TEXT = re.compile(
    r"Traceback \(most recent call last\)|^-{20,}\s*\n\s*\w+(Error|Exception)\b"
    r"|^\s*[A-Z]\w*(Error|Exception): ", re.M)
# "<IPython.core.display.Markdown object>", "<torch._C.Generator at 0x7f6dea3a86b0>"
OBJECT_REPR = re.compile(r"<[A-Za-z_][\w.]*(?<!\.)(?: object(?: at 0x[0-9a-fA-F]+)?"
                         r"| at 0x[0-9a-fA-F]+)>")
IMAGE_URL = re.compile(r"\.(png|jpe?g|gif|svg|webp)(\?.*)?$", re.I)
CHAPTER_TITLE = re.compile(r"^\d+\.\s+\S")
MIN_CHAPTER_TEXT = 400  # characters of text in a chapter's article


def _classes(tag: Tag) -> list[str]:
    cls = tag.get("class") or []
    return cls.split() if isinstance(cls, str) else list(cls)


def _has_class(tag: Tag, prefix: str) -> bool:
    return any(c == prefix or c.startswith(prefix) for c in _classes(tag))


def _is_source_code(tag: Tag) -> bool:
    """Code the author wrote (a cell's input, a code block in prose), not an output."""
    cls = _classes(tag)
    if "cell_input" in cls:
        return True
    return any(c.startswith("highlight-") for c in cls) and tag.find_parent(
        class_="cell_output") is None


def _prose_text_nodes(root: Tag):
    """Text nodes a reader sees as text: not code, not scripts, not math elements (the
    ``mathjax-error`` rule reports a math element MathJax did not typeset)."""
    for node in root.descendants:
        if not isinstance(node, NavigableString) or type(node) is not NavigableString:
            continue  # comments, doctypes, CDATA are NavigableString subclasses
        skip = False
        for parent in node.parents:
            if not isinstance(parent, Tag):
                continue
            if (parent.name in SKIP_TAGS or parent.name in CODE_TAGS
                    or "math" in _classes(parent) or _is_source_code(parent)):
                skip = True
                break
        if not skip and node.strip():
            yield node


def _block_text(tag: Tag) -> str:
    """The text of an element, with <br> and block boundaries as newlines."""
    for br in tag.find_all("br"):
        br.replace_with("\n")
    return tag.get_text()


def _outputs(soup: BeautifulSoup) -> list[Tag]:
    """One element per cell output (myst-nb: div.cell_output > div.output / img / ...)."""
    out = []
    for cell_output in soup.select(".cell_output"):
        kids = [k for k in cell_output.children if isinstance(k, Tag)]
        out.extend(kids or [cell_output])
    return out


def _snip(text: str, n: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


def find_raw_tables(text: str) -> list[str]:
    """Markdown tables shown as text: a `|`-row followed by a `|---|---|` rule."""
    lines = text.splitlines()
    found = []
    for i in range(1, len(lines)):
        if TABLE_RULE.match(lines[i]) and TABLE_ROW.match(lines[i - 1]):
            found.append(lines[i - 1].strip())
    return found


def is_numbered_chapter(page: str) -> bool:
    """A numbered chapter's file is ``partN_<slug>/chNN_<slug>``; appendices are not."""
    return re.match(r"ch\d+_", posixpath.basename(page)) is not None


def check_dom(html: str, page: str, *, chapter: bool = False,
              numbered: bool | None = None) -> list[Finding]:
    """Everything that can be told from one page's DOM (after its JavaScript ran).

    chapter: a page of _toc.yml (it must have a title and text); numbered: its title must
    read "N. Title" (default: a chapter whose file is chNN_<slug>).
    """
    if numbered is None:
        numbered = chapter and is_numbered_chapter(page)
    soup = BeautifulSoup(html, "html.parser")
    body = soup.body or soup
    found: list[Finding] = []

    def add(rule: str, detail: str) -> None:
        f = Finding(page, rule, detail)
        if f not in found:
            found.append(f)

    # MathJax: error nodes, and math that was never typeset.
    for err in body.select("mjx-merror, [data-mml-node=merror]"):
        add("mathjax-error", _snip(err.get("data-mjx-error") or err.get_text() or "merror"))
    for el in body.select(".math"):
        if el.find("mjx-container") is None and el.find_parent("mjx-container") is None:
            if el.get_text().strip():
                add("mathjax-error", f"math not typeset: {_snip(el.get_text(), 60)}")

    # TeX left as text (math MathJax did not typeset, or dollars the parser did not see).
    for node in _prose_text_nodes(body):
        for pattern, what in TEX_PATTERNS:
            m = pattern.search(str(node))
            if m:
                add("raw-tex", f"{what}: {_snip(m.group(0), 80)}")
                break

    # Markdown tables shown as text, anywhere but in source code.
    texts = []
    for el in body.find_all(["p", "pre", "div", "span", "li", "td"]):
        if el.find_parent(["script", "style", "textarea"]) is not None:
            continue
        if _is_source_code(el) or el.find_parent(_is_source_code) is not None:
            continue
        if el.find(["p", "pre", "div", "li", "table"]) is None:  # innermost text blocks
            texts.append(el.get_text())
    for text in texts:
        for row in find_raw_tables(text):
            add("raw-table", _snip(row, 80))

    # Cell outputs: warnings, stderr, machine paths, progress trails, errors, reprs.
    for out in _outputs(soup):
        cls = _classes(out)
        text = out.get_text("\n") if out.find("br") is None else _block_text(out)
        if "stderr" in cls or out.select_one(".stderr") is not None:
            add("warning", f"stderr output: {_snip(text, 80)}")
        m = WARNING_TEXT.search(text)
        if m:
            line = text[m.start():].splitlines()[0]
            add("warning", _snip(line, 100))
        m = MACHINE_PATH.search(text)
        if m:
            add("warning", f"machine path in output: {_snip(m.group(0), 80)}")
        bars = [ln for ln in re.split(r"[\r\n]+", text) if PROGRESS_LINE.search(ln)]
        if len(bars) > 1:
            add("progress-trail", f"{len(bars)} progress-bar lines, e.g. {_snip(bars[0], 70)}")
        if "traceback" in cls or "error" in cls or out.select_one(".traceback") is not None:
            add("error-output", _snip(text, 100))
        else:
            m = TRACEBACK_TEXT.search(text)
            if m:
                add("error-output", _snip(text[m.start():].strip().splitlines()[0], 100))
        m = OBJECT_REPR.search(text)
        if m:
            add("object-repr", m.group(0))

    # Widgets (a tqdm.notebook bar, executed without CREDITLAB_PROGRESS=off): the page
    # needs the widget manager from a CDN to show them, and shows nothing offline.
    widgets = body.select('.cell_output script[type="application/vnd.jupyter.widget-view+json"]')
    if widgets:
        add("widget", f"{len(widgets)} Jupyter widget(s) in outputs (progress bars? execute "
                      "the notebooks with CREDITLAB_PROGRESS=off)")

    # Chapters: a title "N. Title" and some content.
    if chapter:
        article = (body.select_one("article.bd-article") or body.select_one("main")
                   or body.select_one("[role=main]") or body)
        h1 = article.find("h1")
        title = h1.get_text(" ", strip=True).rstrip("#¶ ").strip() if h1 else ""
        text = " ".join(article.get_text(" ").split())
        if not title:
            add("empty-chapter", "no title (h1)")
        elif numbered and not CHAPTER_TITLE.match(title):
            add("chapter-title", f"title {title!r} is not 'N. Title'")
        if len(text) < MIN_CHAPTER_TEXT:
            add("empty-chapter", f"only {len(text)} characters of text")
    return found


def _local_target(href: str, page: str) -> tuple[str, str] | None:
    """(target page path relative to the build, fragment) for an internal href, else None."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or href.startswith(("mailto:", "javascript:", "data:")):
        return None
    path = unquote(parts.path)
    if path:
        target = posixpath.normpath(posixpath.join(posixpath.dirname(page), path))
    else:
        target = page
    return target, unquote(parts.fragment)


_REFRESH = re.compile(r"""<meta[^>]+http-equiv=["']?refresh["']?[^>]*>""", re.I)
_REFRESH_URL = re.compile(r"""url=([^"'>\s]+)""", re.I)


def redirect_target(html: str) -> str | None:
    """The URL of a page that only redirects (<meta http-equiv="refresh">), else None."""
    m = _REFRESH.search(html)
    if m is None:
        return None
    u = _REFRESH_URL.search(m.group(0))
    return u.group(1) if u else None


def anchors(html: str) -> set[str]:
    soup = BeautifulSoup(html, "html.parser")
    ids = {t["id"] for t in soup.find_all(id=True)}
    ids |= {t["name"] for t in soup.find_all("a", attrs={"name": True})}
    return ids


def check_links(pages: dict[str, str], exists, page_anchors) -> list[Finding]:
    """Internal links, anchors, images and local resources of every page.

    pages: {page path relative to the build: DOM html}; exists(path) -> bool for a build
    path; page_anchors(path) -> set of ids of that page (or None if it is not HTML).
    """
    found: list[Finding] = []
    for page, html in pages.items():
        soup = BeautifulSoup(html, "html.parser")
        for a in soup.find_all("a", href=True):
            href = a["href"].strip()
            if not href or href == "#":
                continue
            tgt = _local_target(href, page)
            if tgt is None:
                continue
            path, frag = tgt
            if path.startswith("..") or not exists(path):
                found.append(Finding(page, "broken-link", f"{href} (no file {path})"))
                continue
            if frag and path.endswith(".html"):
                ids = page_anchors(path)
                if ids is not None and frag not in ids:
                    found.append(Finding(page, "broken-link", f"{href} (no anchor #{frag})"))
        for img in soup.find_all("img"):
            src = (img.get("src") or "").strip()
            if not src:
                found.append(Finding(page, "missing-image", "an <img> without src"))
                continue
            if src.startswith("data:"):
                continue
            tgt = _local_target(src, page)
            if tgt is None:
                found.append(Finding(page, "network", f"image from the network: {src}"))
            elif not exists(tgt[0]):
                found.append(Finding(page, "missing-image", src))
        for tag, attr in (("script", "src"), ("link", "href")):
            for el in soup.find_all(tag, attrs={attr: True}):
                if tag == "link" and not {"stylesheet", "preload", "icon"} & set(
                        el.get("rel") or []):
                    continue
                tgt = _local_target(el[attr], page)
                if tgt is None:
                    found.append(Finding(page, "network", f"<{tag}> from the network: "
                                                          f"{el[attr]}"))
                elif not exists(tgt[0]):
                    found.append(Finding(page, "missing-resource", el[attr]))
    return found


def check_events(page: str, events: dict) -> list[Finding]:
    """What the browser saw: requests, failed loads, JS exceptions, unloaded images."""
    found: list[Finding] = []
    for url in events.get("network", []):
        found.append(Finding(page, "network", f"request to {_snip(url, 100)}"))
    for url in events.get("failed", []):
        if IMAGE_URL.search(url.split(" (")[0]):
            continue  # an image: reported by the missing-image rules
        found.append(Finding(page, "missing-resource", f"failed to load {_snip(url, 100)}"))
    for msg in events.get("exceptions", []):
        found.append(Finding(page, "js-error", _snip(msg, 160)))
    for src in events.get("broken_images", []):
        found.append(Finding(page, "missing-image", f"not loaded: {_snip(src, 100)}"))
    return sorted(set(found), key=lambda f: (f.rule, f.detail))


# ----------------------------------------------------------------------------------------
# The book
# ----------------------------------------------------------------------------------------

def toc_pages(book: Path) -> tuple[str | None, list[str]]:
    """(root page, chapter pages) from book/_toc.yml, as build-relative .html paths."""
    toc = book / "_toc.yml"
    if not toc.exists():
        return None, []
    import yaml

    data = yaml.safe_load(toc.read_text())
    chapters: list[str] = []

    def walk(entries) -> None:
        for e in entries or []:
            if "file" in e:
                chapters.append(_html_name(e["file"]))
            for key in ("chapters", "sections", "parts"):
                walk(e.get(key))

    walk(data.get("parts"))
    walk(data.get("chapters"))
    root = _html_name(data["root"]) if data.get("root") else None
    return root, chapters


def _html_name(doc: str) -> str:
    doc = re.sub(r"\.(md|ipynb|rst)$", "", doc)
    return doc + ".html"


def html_pages(build: Path) -> list[str]:
    """The pages of the last build: Sphinx's documents (searchindex.js) and its own pages.

    A page left in the build folder by an earlier build (a renamed chapter) is not one.
    """
    index = build / "searchindex.js"
    if index.exists():
        text = index.read_text(errors="replace")
        m = re.search(r"setIndex\((\{.*\})\)", text, re.S)
        if m:
            docnames = json.loads(m.group(1)).get("docnames", [])
            pages = {f"{d}.html" for d in docnames}
            pages |= {p for p in ("index.html", "genindex.html", "search.html", "py-modindex.html")
                      if (build / p).exists()}
            return sorted(p for p in pages if (build / p).exists())
    skip = ("_static/", "_sources/", "_images/", "_downloads/", "_panels_static/")
    return sorted(p.relative_to(build).as_posix() for p in build.rglob("*.html")
                  if not p.relative_to(build).as_posix().startswith(skip))


# ----------------------------------------------------------------------------------------
# Chromium over the DevTools protocol (a pipe: no websocket, no extra package)
# ----------------------------------------------------------------------------------------

# Runs in the page once it has loaded: waits for MathJax (if the page has math) and fonts.
SETTLE_JS = """
(async () => {
  const hasMath = document.querySelector('.math') !== null;
  const t0 = performance.now();
  const ready = () => window.MathJax && MathJax.startup && MathJax.startup.promise;
  while (hasMath && !ready() && performance.now() - t0 < 4000)
    await new Promise(r => setTimeout(r, 50));
  if (ready()) await MathJax.startup.promise;
  if (document.fonts) await document.fonts.ready;
  const broken = [...document.images].filter(i => i.complete && i.naturalWidth === 0)
    .map(i => i.getAttribute('src'));
  return JSON.stringify({broken, html: document.documentElement.outerHTML,
                         height: document.documentElement.scrollHeight,
                         mathjax: !!ready()});
})()
"""


class Chromium:
    """A headless Chromium driven over --remote-debugging-pipe (fd 3 in, fd 4 out)."""

    def __init__(self, binary: str, width: int = 1280, height: int = 900) -> None:
        self.width, self.height = width, height
        self.tmp = tempfile.mkdtemp(prefix="check-html-")
        args = [
            binary, "--headless", "--remote-debugging-pipe", "--no-sandbox",
            "--disable-gpu", "--no-first-run", "--no-default-browser-check",
            "--disable-extensions", "--disable-background-networking", "--disable-sync",
            "--disable-component-update", "--disable-default-apps", "--mute-audio",
            "--hide-scrollbars", "--force-color-profile=srgb",
            # the network is off: a dead proxy and a resolver that finds no host
            "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={self.tmp}", f"--window-size={width},{height}",
            "about:blank",
        ]
        self.log = open(os.path.join(self.tmp, "chromium.log"), "wb")
        self.proc = subprocess.Popen(
            ["sh", "-c", 'exec "$@" 3<&0 4>&1 0</dev/null 1>&2', "sh", *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log)
        self.next_id = 0
        self.replies: dict[int, dict] = {}
        self.events: queue.Queue = queue.Queue()
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]
        for domain in ("Page", "Network", "Runtime"):
            self.call(f"{domain}.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width,
                  height=height, deviceScaleFactor=1, mobile=False)

    def _read(self) -> None:
        buf = b""
        while True:
            chunk = self.proc.stdout.read1(1 << 16)
            if not chunk:
                with self.cond:
                    self.replies[-1] = {"error": {"message": "chromium exited"}}
                    self.cond.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg:
                    with self.cond:
                        self.replies[msg["id"]] = msg
                        self.cond.notify_all()
                else:
                    self.events.put(msg)

    def call(self, method: str, session: bool = False, timeout: float = 60, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        self.proc.stdin.write(json.dumps(msg).encode() + b"\0")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.next_id not in self.replies and -1 not in self.replies:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{method}: no answer from chromium in {timeout} s")
                self.cond.wait(left)
            reply = self.replies.pop(self.next_id, None) or self.replies[-1]
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def _drain(self) -> list[dict]:
        out = []
        while True:
            try:
                out.append(self.events.get_nowait())
            except queue.Empty:
                return out

    def load(self, url: str, timeout: float = 60) -> tuple[dict, dict]:
        """Open url, wait for load and MathJax; (DOM facts, events seen)."""
        self._drain()
        self.call("Page.navigate", session=True, url=url)
        deadline = time.monotonic() + timeout
        seen: list[dict] = []
        while True:
            try:
                ev = self.events.get(timeout=max(0.05, deadline - time.monotonic()))
            except queue.Empty as err:
                raise TimeoutError(f"{url}: no load event in {timeout} s") from err
            seen.append(ev)
            if ev.get("method") == "Page.loadEventFired":
                break
        res = self.call("Runtime.evaluate", session=True, timeout=timeout,
                        expression=SETTLE_JS, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in res:
            raise RuntimeError(f"{url}: {res['exceptionDetails'].get('text')}")
        facts = json.loads(res["result"]["value"])
        time.sleep(0.05)
        seen += self._drain()
        events: dict[str, list[str]] = {"network": [], "failed": [], "exceptions": [],
                                        "broken_images": facts["broken"]}
        urls: dict[str, str] = {}
        for ev in seen:
            m, p = ev.get("method"), ev.get("params", {})
            if m == "Network.requestWillBeSent":
                u = p["request"]["url"]
                urls[p["requestId"]] = u
                if urlsplit(u).scheme not in ("file", "data", "blob", "about", "chrome"):
                    events["network"].append(u)
            elif m == "Network.loadingFailed":
                u = urls.get(p.get("requestId"), "?")
                if urlsplit(u).scheme == "file":
                    events["failed"].append(f"{u} ({p.get('errorText')})")
            elif m == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                exc = d.get("exception", {}).get("description") or d.get("text", "")
                events["exceptions"].append(exc.splitlines()[0] if exc else "exception")
        return facts, events

    def screenshot(self, path: Path, full_height: int | None = None) -> None:
        """The viewport as a PNG; with full_height, the page that tall (one capture).

        The page is laid out in a viewport of the captured size: capturing beyond the
        viewport instead shifts the theme's sticky sidebars and cuts the article.
        """
        if full_height:
            self.call("Emulation.setDeviceMetricsOverride", session=True, width=self.width,
                      height=full_height, deviceScaleFactor=1, mobile=False)
        try:
            res = self.call("Page.captureScreenshot", session=True, format="png")
        finally:
            if full_height:
                self.call("Emulation.setDeviceMetricsOverride", session=True,
                          width=self.width, height=self.height, deviceScaleFactor=1,
                          mobile=False)
        path.write_bytes(base64.b64decode(res["data"]))

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=5)
        except Exception:  # noqa: BLE001 - it is going away anyway
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def report(findings: list[Finding], verbose: bool = False, shown: int = 3) -> None:
    """Findings grouped by page and rule: a count and the first few of each."""
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        groups.setdefault((f.page, f.rule), []).append(f)
    for (page, rule), fs in groups.items():
        print(f"{page}: [{rule}] x{len(fs)}")
        for f in fs if verbose else fs[:shown]:
            print(f"    {f.detail}")
        if not verbose and len(fs) > shown:
            print(f"    ... {len(fs) - shown} more (-v lists all)")


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build", nargs="?", default=str(ROOT / "book" / "_build" / "html"))
    ap.add_argument("--book", default=str(ROOT / "book"), help="book sources (_toc.yml)")
    ap.add_argument("--screenshots", default=None,
                    help="folder for the screenshots (default: <build>/../screenshots)")
    ap.add_argument("--full-page", action="store_true", help="screenshot whole pages")
    ap.add_argument("--shot-height", type=int, default=2400,
                    help="viewport (and screenshot) height in pixels")
    ap.add_argument("--only", action="append", default=[], metavar="GLOB",
                    help="check only pages matching GLOB (repeatable; links are then "
                         "checked from those pages only)")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every finding")
    ap.add_argument("--chromium", default=os.environ.get("CHROMIUM") or find_chromium())
    args = ap.parse_args(argv)

    build = Path(args.build).resolve()
    if not (build / "index.html").exists():
        print(f"check-html: no built book at {build} (run make book)", file=sys.stderr)
        return 2
    if not args.chromium:
        print("check-html: chromium not found (apt-get install chromium)", file=sys.stderr)
        return 2
    shots = Path(args.screenshots) if args.screenshots else build.parent / "screenshots"
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)

    root, chapters = toc_pages(Path(args.book))
    pages = html_pages(build)
    if args.only:
        pages = [p for p in pages if any(fnmatch.fnmatch(p, g) for g in args.only)]
        chapters = [c for c in chapters if c in pages]
    missing = [c for c in chapters if c not in pages]
    t0 = time.monotonic()
    findings: list[Finding] = [Finding(c, "empty-chapter", "in _toc.yml but not built")
                               for c in missing]
    doms: dict[str, str] = {}

    def exists(path: str) -> bool:
        p = build / path
        return p.is_file() or (p.is_dir() and (p / "index.html").is_file())

    browser = Chromium(args.chromium, height=args.shot_height)
    try:
        for page in pages:
            t = time.monotonic()
            target = redirect_target((build / page).read_text(errors="replace"))
            if target is not None:  # index.html: a redirect to the root page
                tgt = _local_target(target, page)
                if tgt is not None and not exists(tgt[0]):
                    findings.append(Finding(page, "broken-link", f"redirect to {target}"))
                continue
            try:
                facts, events = browser.load((build / page).as_uri())
            except (TimeoutError, RuntimeError) as err:
                findings.append(Finding(page, "load", f"the page did not finish loading: {err}"))
                continue
            doms[page] = facts["html"]
            findings += check_dom(facts["html"], page, chapter=page in chapters)
            findings += check_events(page, events)
            if page in chapters or page == root:
                name = page[:-5].replace("/", "__") + ".png"
                browser.screenshot(shots / name, facts["height"] if args.full_page else None)
            print(f"  {page}: {time.monotonic() - t:.1f} s", flush=True)
    finally:
        browser.close()

    anchor_cache: dict[str, set[str] | None] = {}

    def page_anchors(path: str) -> set[str] | None:
        if path not in anchor_cache:
            if path in doms:
                anchor_cache[path] = anchors(doms[path])
            elif (build / path).is_file():
                anchor_cache[path] = anchors((build / path).read_text(errors="replace"))
            else:
                anchor_cache[path] = None
        return anchor_cache[path]

    findings += check_links(doms, exists, page_anchors)
    findings = list(dict.fromkeys(findings))
    report(findings, args.verbose)
    print(f"check-html: {len(pages)} pages, {len(findings)} findings, "
          f"{time.monotonic() - t0:.0f} s; screenshots in {shots}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
