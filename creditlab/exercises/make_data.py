"""Write the stored answers the exercise checks grade against (run after changing them).

    python -m creditlab.exercises.make_data

Answers come from the library's reference implementations, never from the solutions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from creditlab import reference


def ch01_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261126)
    out: dict[str, np.ndarray] = {}

    def put(ex: str, i: int, expected: np.ndarray, **kw: Any) -> None:
        for k, v in kw.items():
            out[f"{ex}/{i}/{k}"] = np.asarray(v)
        out[f"{ex}/{i}/expected"] = np.asarray(expected, dtype=np.float64)

    lengths = [1, 2, 5, 10, 33]
    for i, (T, gamma) in enumerate(zip(lengths, [0.9, 0.0, 1.0, 0.99, 0.5])):
        r = rng.normal(size=T)
        put("discounted_returns", i, reference.discounted_returns(r[None], gamma)[0],
            rewards=r, gamma=gamma)
        v = rng.normal(size=T + 1)
        put("td_errors", i, r + gamma * v[1:] - v[:-1], rewards=r, values=v, gamma=gamma)
        lam = [0.95, 0.0, 1.0, 0.5, 0.8][i]
        term = rng.random(T) < 0.25
        adv, _ = reference.gae(r[None], v[None], gamma, lam, terminated=term[None])
        put("gae", i, adv[0], rewards=r, values=v, gamma=gamma, lam=lam, terminated=term)
        put("min_form_returns", i, reference.min_form_returns(r[None])[0], rewards=r)
    return out


def main() -> None:
    data = Path(__file__).with_name("data")
    data.mkdir(exist_ok=True)
    np.savez_compressed(data / "ch01.npz", **ch01_cases())
    print(f"wrote {data / 'ch01.npz'}")


if __name__ == "__main__":
    main()
