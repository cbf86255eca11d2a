"""tools/seed_sweep.py: asserts are recorded, not raised, with their operands per seed."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import numpy as np

SPEC = importlib.util.spec_from_file_location(
    "seed_sweep", Path(__file__).resolve().parents[1] / "tools" / "seed_sweep.py")
sweep = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(sweep)


def _run(src: str, ns: dict) -> list[dict]:
    records = []

    def check(cell, line, src_, loop, test, operands, ops, op_src):  # noqa: ANN001, ANN202
        records.append({"src": src_, "loop": loop, "ok": bool(np.all(test())), "ops": ops,
                        "op_src": op_src, "values": [sweep._plain(o()) for o in operands]})

    tree = ast.fix_missing_locations(sweep._RewriteAsserts(0, src).visit(ast.parse(src)))
    exec(compile(tree, "<test>", "exec"), {**ns, "__sweep_check__": check})
    return records


def test_failing_asserts_are_recorded_not_raised():
    src = ("acc = np.array([0.01, 0.2, 0.03])\n"
           "assert np.all(acc < 0.05) and acc.mean() > 0\n"
           "for name in ('a', 'b'):\n"
           "    assert len(name) == 1\n")
    recs = _run(src, {"np": np})
    assert [r["src"] for r in recs] == ["np.all(acc < 0.05)", "acc.mean() > 0",
                                        "len(name) == 1", "len(name) == 1"]
    assert [r["ok"] for r in recs] == [False, True, True, True]
    assert recs[0]["values"] == [[0.01, 0.2, 0.03], 0.05] and recs[0]["ops"] == ["<"]
    assert [r["loop"] for r in recs[2:]] == [{"name": "a"}, {"name": "b"}]
    per_seed = sweep._per_seed(recs[0], 3)
    assert [ok for _, ok in per_seed] == [True, False, True]
    assert sweep._per_seed(recs[1], 3) is None  # a mean over seeds is pooled
