"""Install MathJax into book/_static/mathjax, so the HTML book renders math with no network.

    python tools/fetch_mathjax.py [--dest book/_static/mathjax]

MathJax 3.2.2 (pinned, and checked against the registry's published hash) comes from the
npm registry as ``npm pack mathjax@3.2.2``; where ``npm`` is missing, from PyPI as
``pip download django-static-mathjax==3.2.2.1`` (MathJax 3.2.2 repackaged for Django).
Only the browser build (``es5/``) is kept, without the combined files the book does not load.
Sphinx copies book/_static into the built book (``_static/mathjax/``) and
book/_config.yml's ``mathjax_path`` points there. Nothing is fetched at view time.
Run by the Makefile (``make book``) when book/_static/mathjax is missing or out of date.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSION = "3.2.2"
ENTRY = "tex-mml-chtml.js"  # book/_config.yml: mathjax_path: mathjax/tex-mml-chtml.js
NPM_SPEC = f"mathjax@{VERSION}"
NPM_SHA512 = ("Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/"
              "FEsPsjKPZGJvtRZM1vO+geW0OhGw==")
PYPI_SPEC = "django-static-mathjax==3.2.2.1"
PYPI_SHA256 = "05ad109fd9e5d9d380c76389689b7f523e9ccb7f7a85c1eb962c7564eac7601d"
STAMP = ".creditlab-mathjax"


def _keep(rel: str) -> bool:
    """Files of es5/ the book needs: its entry point and the components it loads lazily."""
    if "/" not in rel:  # top-level combined builds: only the one the book loads
        return rel in (ENTRY, "startup.js", "core.js", "loader.js")
    return True


def from_npm(tmp: Path) -> dict[str, bytes]:
    out = subprocess.run(["npm", "pack", "--silent", NPM_SPEC], cwd=tmp, check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()[-1]
    data = (tmp / out).read_bytes()
    got = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if got != NPM_SHA512:
        raise SystemExit(f"{out}: sha512 {got} is not the pinned {NPM_SHA512}")
    files = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for m in tar.getmembers():
            if m.isfile() and m.name.startswith("package/es5/"):
                files[m.name[len("package/es5/"):]] = tar.extractfile(m).read()
            elif m.isfile() and m.name == "package/LICENSE":
                files["LICENSE"] = tar.extractfile(m).read()
    return files


def from_pypi(tmp: Path) -> dict[str, bytes]:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary",
                    ":all:", "--quiet", "-d", str(tmp), PYPI_SPEC], check=True)
    wheel = next(tmp.glob("*.whl"))
    data = wheel.read_bytes()
    if hashlib.sha256(data).hexdigest() != PYPI_SHA256:
        raise SystemExit(f"{wheel.name}: sha256 is not the pinned {PYPI_SHA256}")
    prefix = "mathjax/static/mathjax/"
    files = {}
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for name in zf.namelist():
            if name.startswith(prefix + "es5/") and not name.endswith("/"):
                files[name[len(prefix) + 4:]] = zf.read(name)
            elif name == prefix + "LICENSE":
                files["LICENSE"] = zf.read(name)
    return files


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dest", type=Path, default=ROOT / "book" / "_static" / "mathjax")
    ap.add_argument("--source", choices=["auto", "npm", "pypi"], default="auto")
    args = ap.parse_args(argv)
    stamp = args.dest / STAMP
    want = f"{VERSION} {ENTRY}\n"
    if stamp.exists() and stamp.read_text() == want and (args.dest / ENTRY).exists():
        print(f"MathJax {VERSION} already in {args.dest}")
        return 0
    source = args.source
    if source == "auto":
        source = "npm" if shutil.which("npm") else "pypi"
    with tempfile.TemporaryDirectory() as tmp:
        files = (from_npm if source == "npm" else from_pypi)(Path(tmp))
    files = {k: v for k, v in files.items() if _keep(k)}
    if ENTRY not in files:
        raise SystemExit(f"MathJax {VERSION} from {source}: no {ENTRY}")
    shutil.rmtree(args.dest, ignore_errors=True)
    for rel, data in files.items():
        path = args.dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    stamp.write_text(want)
    size = sum(len(v) for v in files.values()) / 1e6
    print(f"MathJax {VERSION} ({source}): {len(files)} files, {size:.1f} MB in {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
