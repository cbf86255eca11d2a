"""Sphinx extension for the creditlab book's HTML: each script once per page.

sphinx-thebe (which Jupyter Book always loads) registers its inline configuration script
(``const THEBE_JS_URL = ...``) twice with Sphinx 7, so every page raised
``SyntaxError: Identifier 'THEBE_JS_URL' has already been declared`` in the browser
(tools/check_html.py reports JavaScript errors). Scripts that are equal (same file or
body, same attributes) are kept once, in their first place.
"""

from __future__ import annotations

from typing import Any


def _dedupe_scripts(app: Any, pagename: str, templatename: str, context: dict,
                    doctree: Any) -> None:
    scripts = context.get("script_files")
    if isinstance(scripts, list):
        context["script_files"] = list(dict.fromkeys(scripts))


def setup(app: Any) -> dict[str, Any]:
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
