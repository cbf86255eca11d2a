"""Sphinx extension for the creditlab book's HTML: each script once, MathJax loaded once.

* sphinx-thebe and sphinx-togglebutton (which Jupyter Book always loads) register inline
  scripts with ``filename=None``; Sphinx 7 adds them to the page once as ``None`` and once,
  from its registry, as ``''``, so every page ran ``const THEBE_JS_URL = ...`` twice: a
  ``SyntaxError`` in the browser (tools/check_html.py reports JavaScript errors). Scripts
  equal but for ``None``/``''`` are kept once, in their first place.
* Jupyter Book adds every ``.js`` file under ``book/_static`` to every page. MathJax lives
  in ``book/_static/mathjax`` (``make mathjax``) and is loaded by Sphinx's ``mathjax_path``
  alone, which loads its components on demand; the other files are dropped from the list.
  A build without it warns (and so fails under --warningiserror).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sphinx.util import logging

logger = logging.getLogger(__name__)


def _drop_mathjax_files(app: Any, config: Any) -> None:
    files = config.html_js_files or []
    config.html_js_files = [f for f in files
                            if not (isinstance(f, str) and f.startswith("mathjax/"))]
    path = config.mathjax_path or ""
    if "://" not in path and not (Path(app.srcdir) / "_static" / path).is_file():
        logger.warning("MathJax is not in book/_static/%s: run `make mathjax` "
                       "(tools/fetch_mathjax.py) before building, or math shows as raw TeX",
                       path)


def _key(js: Any) -> tuple:
    filename = getattr(js, "filename", js) or ""
    attributes = getattr(js, "attributes", {}) or {}
    return (str(filename), getattr(js, "priority", 500), tuple(sorted(attributes.items())))


def _dedupe_scripts(app: Any, pagename: str, templatename: str, context: dict,
                    doctree: Any) -> None:
    scripts = context.get("script_files")
    if isinstance(scripts, list):
        seen: set[tuple] = set()
        kept = []
        for js in scripts:
            k = _key(js)
            if k not in seen:
                seen.add(k)
                kept.append(js)
        context["script_files"] = kept


def setup(app: Any) -> dict[str, Any]:
    app.connect("config-inited", _drop_mathjax_files)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
