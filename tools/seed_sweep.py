"""Seed sweep: run chapters on seeds they were not written on, recording every assert.

    python tools/seed_sweep.py                      # every chapter, seeds 5,6,7,8,9
    python tools/seed_sweep.py ch05 ch06 --seeds 20,21,22,23,24 --out sweep.md --logs logs/
    make seeds CHAPTERS="ch05" SWEEP_SEEDS=20,21,22,23,24

Chapters read their seeds through ``creditlab.seeds([...])`` (lists) and
``creditlab.seed(0)`` (one seed); this script sets ``CREDITLAB_SEEDS`` to override them.
A chapter that uses seed lists runs once with all the sweep's seeds (each list becomes the
sweep's list); a chapter that uses only ``creditlab.seed`` runs once per sweep seed.

Each notebook's code cells run in a fresh Python process, in order, in one namespace
(matplotlib without a display). Every ``assert`` is rewritten before it runs: instead of
raising, it records its operands, and execution goes on. ``assert a and b`` records ``a``
and ``b`` separately; ``assert np.all(x < t)`` records ``x`` and ``t``, so a value with one
entry per seed is shown per seed (any 1-D operand as long as the seed list counts as one,
so reduce a check over another axis with ``.max()`` when the lengths could coincide). An
assert inside a loop gets one row per plain loop value (``[name=Clip]``) or per evaluation.
A cell that raises anything else (a library check, a
crash) is recorded as a failure of that cell and the next cell runs.

The output is one Markdown table per chapter: the assert, its right-hand side (the
threshold), the value on each seed with a pass/fail mark (or one pooled value when the
assert checks a mean over seeds), and the run times; ``--logs`` keeps each run's printed
output (the chapter's tables) for a closer look. Not part of CI: a full sweep takes
the time of several book builds.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BOOK = REPO / "book"
OPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}


# ---------------------------------------------------------------- in the child process
class _RewriteAsserts(ast.NodeTransformer):
    """``assert test, msg`` -> one ``__sweep_check__(...)`` call per conjunct of ``test``."""

    def __init__(self, cell: int, source: str) -> None:
        self.cell, self.source, self.loop_vars = cell, source, []

    def visit_For(self, node: ast.For) -> ast.AST:
        names = [n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)]
        self.loop_vars.append(names)
        self.generic_visit(node)
        self.loop_vars.pop()
        return node

    def visit_Assert(self, node: ast.Assert) -> list[ast.stmt]:
        parts = node.test.values if isinstance(node.test, ast.BoolOp) and isinstance(
            node.test.op, ast.And) else [node.test]
        loop = sorted({v for vs in self.loop_vars for v in vs})
        calls = []
        for part in parts:
            inner = part
            # np.all(x < t), all(...), (x < t).all(): record the comparison's operands
            if isinstance(inner, ast.Call) and len(inner.args) == 1 and not inner.keywords:
                f = inner.func
                if (isinstance(f, ast.Attribute) and f.attr == "all") or (
                        isinstance(f, ast.Name) and f.id == "all"):
                    inner = inner.args[0]
            elif (isinstance(inner, ast.Call) and not inner.args and isinstance(
                    inner.func, ast.Attribute) and inner.func.attr == "all"):
                inner = inner.func.value
            operands, ops = [], []
            if isinstance(inner, ast.Compare) and all(type(o) in OPS for o in inner.ops):
                operands = [inner.left, *inner.comparators]
                ops = [OPS[type(o)] for o in inner.ops]
            lam = lambda e: ast.Lambda(  # noqa: E731
                ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[],
                              defaults=[]), e)
            call = ast.Call(
                func=ast.Name("__sweep_check__", ast.Load()),
                args=[ast.Constant(self.cell), ast.Constant(node.lineno),
                      ast.Constant(ast.get_source_segment(self.source, part) or "?"),
                      ast.Dict([ast.Constant(v) for v in loop],
                               [ast.Name(v, ast.Load()) for v in loop]),
                      lam(part), ast.List([lam(o) for o in operands], ast.Load()),
                      ast.List([ast.Constant(o) for o in ops], ast.Load()),
                      ast.List([ast.Constant(ast.get_source_segment(self.source, o) or "?")
                                for o in operands], ast.Load())],
                keywords=[])
            calls.append(ast.Expr(call))
        return [ast.copy_location(c, node) for c in calls]


def _plain(x):  # noqa: ANN001, ANN202
    """A JSON-able float / list of floats, or None."""
    import numpy as np

    try:
        if hasattr(x, "detach"):
            x = x.detach().cpu().numpy()
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        return None
    if a.size > 64:
        return {"min": float(a.min()), "max": float(a.max()), "size": int(a.size)}
    return a.tolist()


def _child(notebook: Path, record_path: Path) -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    import creditlab

    records: list[dict] = []
    seen: dict[tuple, int] = {}
    calls = {"seed": 0, "seeds": 0}
    _seed, _seeds = creditlab.seed, creditlab.seeds

    def seed(default):  # noqa: ANN001, ANN202
        calls["seed"] += 1
        return _seed(default)

    def seeds(default):  # noqa: ANN001, ANN202
        calls["seeds"] += 1
        return _seeds(default)

    creditlab.seed, creditlab.seeds = seed, seeds

    def check(cell, line, src, loop, test, operands, ops, op_src):  # noqa: ANN001, ANN202
        # loop variables label the record when they are plain values (a name, a budget);
        # repeated evaluations of one assert are told apart by their occurrence number
        loop = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in loop.items()}
        loop = {k: v for k, v in loop.items() if isinstance(v, (int, float, str))}
        key = (cell, line, src, tuple(loop.items()))
        seen[key] = seen.get(key, -1) + 1
        rec = {"cell": cell, "line": line, "src": src, "ops": ops, "op_src": op_src,
               "loop": loop, "occurrence": seen[key]}
        try:
            ok = test()
            rec["ok"] = bool(ok.all() if hasattr(ok, "all") else ok)
            rec["values"] = [_plain(o()) for o in operands]
        except Exception as e:  # noqa: BLE001
            rec["ok"], rec["error"] = False, f"{type(e).__name__}: {e}"
        records.append(rec)

    from IPython.core.inputtransformer2 import TransformerManager

    cells = json.loads(notebook.read_text())["cells"]
    ns = {"__name__": "__main__", "__sweep_check__": check}
    t0 = time.time()
    for i, c in enumerate(cells):
        if c["cell_type"] != "code":
            continue
        src = TransformerManager().transform_cell("".join(c["source"]))
        try:
            tree = ast.fix_missing_locations(_RewriteAsserts(i, src).visit(ast.parse(src)))
            exec(compile(tree, f"<{notebook.name} cell {i}>", "exec"), ns)
        except Exception as e:  # noqa: BLE001
            records.append({"cell": i, "line": 0, "src": f"cell {i} runs", "ops": [],
                            "op_src": [], "loop": {}, "ok": False,
                            "error": f"{type(e).__name__}: {str(e)[:200]}", "values": []})
        plt.close("all")
    out = {"records": records, "seconds": time.time() - t0, "calls": calls}
    record_path.write_text(json.dumps(out))


# ---------------------------------------------------------------- in the parent process
def _find(chapters: list[str]) -> list[Path]:
    nbs = sorted(p for p in BOOK.rglob("*.ipynb")
                 if "_build" not in p.parts and ".ipynb_checkpoints" not in p.parts)
    if not chapters:
        return nbs
    out = []
    for ch in chapters:
        key = f"ch{int(ch):02d}" if ch.isdigit() else ch
        # match inside the book only: a checkout in a folder named like a chapter
        # (a worktree called wt-ch03) must not match every notebook
        hit = [p for p in nbs if p.name.startswith(key) or key in p.relative_to(BOOK).as_posix()]
        if not hit:
            sys.exit(f"no notebook matches {ch!r}")
        out += [p for p in hit if p not in out]
    return out


def _run(notebook: Path, seeds: list[int], logs: str | None = None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        rec = Path(tmp) / "records.json"
        log = Path(logs) / f"{notebook.stem}_seeds{'_'.join(map(str, seeds))}.log" if logs else None
        env = {**os.environ, "CREDITLAB_SEEDS": ",".join(map(str, seeds)), "MPLBACKEND": "Agg",
               "TQDM_DISABLE": "1"}
        env.pop("CREDITLAB_SEED", None)
        subprocess.run([sys.executable, __file__, "--child", str(notebook), str(rec)],
                       cwd=notebook.parent, env=env, check=True,
                       stdout=log.open("w") if log else subprocess.DEVNULL)
        return json.loads(rec.read_text())


def _fmt(x) -> str:  # noqa: ANN001
    if x is None:
        return "?"
    if isinstance(x, dict):
        return f"[{x['min']:.3g}..{x['max']:.3g}] ({x['size']})"
    if isinstance(x, list):
        return "[" + ", ".join(_fmt(v) for v in x) + "]" if len(x) <= 6 else (
            f"[{min(map(float, _flat(x))):.3g}..{max(map(float, _flat(x))):.3g}]")
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def _flat(x):  # noqa: ANN001, ANN202
    for v in x:
        yield from (_flat(v) if isinstance(v, list) else [v])


def _per_seed(rec: dict, n: int) -> list[tuple[str, bool]] | None:
    """Split a record into one (text, ok) per seed when its operands are per-seed vectors."""
    vals = rec.get("values") or []
    if n < 2 or not vals or any(isinstance(v, dict) for v in vals):
        return None
    lens = {len(v) for v in vals if isinstance(v, list)}
    if lens != {n} or any(isinstance(x, list) for v in vals if isinstance(v, list) for x in v):
        return None
    import numpy as np

    cols = [np.broadcast_to(np.asarray(v, float), (n,)) for v in vals]
    out = []
    for k in range(n):
        ok = all(_cmp(cols[j][k], op, cols[j + 1][k]) for j, op in enumerate(rec["ops"]))
        out.append((_join([float(c[k]) for c in cols], rec), ok))
    return out


def _cmp(a: float, op: str, b: float) -> bool:
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[op]


def _literal(src: str) -> bool:
    try:
        float(src)
        return True
    except ValueError:
        return False


def _join(vals: list, rec: dict) -> str:
    """``a`` when the threshold is a literal, else ``a op b`` with the numbers."""
    if len(vals) == 2 and _literal(rec["op_src"][1]):
        return _fmt(vals[0])
    text = _fmt(vals[0])
    for op, v in zip(rec["ops"], vals[1:]):
        text += f" {op} {_fmt(v)}"
    return text


def _value(rec: dict) -> str:
    if "error" in rec:
        return rec["error"][:80]
    vals = rec.get("values") or []
    if not vals:
        return "True" if rec["ok"] else "False"
    return _join(vals, rec)


def _table(notebook: Path, runs: list[tuple[list[int], dict]]) -> str:
    seeds = [s for ss, _ in runs for s in ss] if len(runs) > 1 else runs[0][0]
    rows: dict[tuple, dict] = {}
    for run_seeds, res in runs:
        for rec in res["records"]:
            loop = ", ".join(f"{k}={v}" for k, v in rec["loop"].items())
            if rec.get("occurrence"):
                loop += ("; " if loop else "") + f"evaluation {rec['occurrence'] + 1}"
            key = (rec["cell"], rec["line"], rec["src"], loop)
            row = rows.setdefault(key, {"rec": rec, "cells": {}, "pooled": []})
            split = _per_seed(rec, len(run_seeds))
            if len(run_seeds) == 1:
                row["cells"][run_seeds[0]] = (_value(rec), rec["ok"])
            elif split is not None:
                for s, cell in zip(run_seeds, split):
                    row["cells"][s] = cell
            else:
                row["pooled"].append((_value(rec), rec["ok"]))
    pooled = any(r["pooled"] for r in rows.values())
    head = ["assert", "threshold", *[f"seed {s}" for s in seeds]] + (
        ["pooled over seeds"] if pooled else []) + ["pass"]
    lines = [f"### {notebook.relative_to(REPO)}", "",
             "run time: " + ", ".join(f"{res['seconds']:.0f} s (seeds {','.join(map(str, ss))})"
                                      for ss, res in runs), "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    n_fail = 0
    for (_, _, src, loop), row in sorted(rows.items(), key=lambda kv: kv[0][:2]):
        rec = row["rec"]
        label = f"`{' '.join(src.split())}`" + (f" [{loop}]" if loop else "")
        thr = " ".join(f"{op} `{' '.join(s.split())}`"
                       for op, s in zip(rec["ops"], rec["op_src"][1:]))
        cells = []
        for s in seeds:
            if s in row["cells"]:
                text, ok = row["cells"][s]
                cells.append(f"{text} {'✓' if ok else '**✗**'}")
            else:
                cells.append("")
        if pooled:
            cells.append("; ".join(f"{t} {'✓' if ok else '**✗**'}" for t, ok in row["pooled"]))
        ok = all(ok for _, ok in row["cells"].values()) and all(ok for _, ok in row["pooled"])
        n_fail += not ok
        esc = [c.replace("|", "\\|") if i != 0 else c for i, c in enumerate(cells)]
        lines.append("| " + " | ".join([label.replace("|", "\\|"), thr.replace("|", "\\|"),
                                        *[e.replace("|", "\\|") for e in esc],
                                        "pass" if ok else "**FAIL**"]) + " |")
    lines += ["", f"{len(rows) - n_fail} of {len(rows)} asserts pass on every seed.", ""]
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(Path(sys.argv[2]), Path(sys.argv[3]))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("chapters", nargs="*", help="ch05, 5 or a path part (default: all)")
    ap.add_argument("--seeds", default="5,6,7,8,9", help="comma-separated unseen seeds")
    ap.add_argument("--out", help="also append the tables to this Markdown file")
    ap.add_argument("--logs", help="write each run's printed output to a file in this folder")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    for nb in _find(args.chapters):
        print(f"running {nb.relative_to(REPO)} on seeds {seeds} ...", file=sys.stderr, flush=True)
        if args.logs:
            Path(args.logs).mkdir(parents=True, exist_ok=True)
        first = _run(nb, seeds, args.logs)
        runs = [(seeds, first)]
        if first["calls"]["seeds"] == 0 and len(seeds) > 1:  # one seed per run
            runs = [([seeds[0]], first)] + [([s], _run(nb, [s], args.logs)) for s in seeds[1:]]
        table = _table(nb, runs)
        print(table, flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(table + "\n")


if __name__ == "__main__":
    main()
