"""A toy "prompt": a set of rule flags for a fixed rule-based classifier.

PromptAgent (Wang et al., 2023, arXiv:2310.16427) optimises a language model's prompt by
search, with *reflective* edits: the model looks at examples the current prompt gets
wrong and proposes a revision that would fix them. Here the "language model" is a fixed
classifier and the "prompt" is which rules from a bank are switched on:

- an example is ``x in {0, 1}^F`` (F binary features, each on with probability
  ``p_feature``); the rule bank holds every single feature and every pair of features
  (a rule *fires* when all its features are on); with ``p_feature = (lo, hi)`` each
  feature's rate is drawn uniformly from that range, so a frequent feature makes a
  single-feature rule a tempting shortcut for a true pair rule (a local optimum for
  single-edit hill climbing: the shortcut covers the pair's positives, so no error
  points at the pair, and switching the shortcut off first costs accuracy);
- the classifier answers 1 iff any active rule fires; a prompt is a bool mask ``[R]``;
- the true label is 1 iff any of ``n_true`` hidden pair rules fires, flipped with
  probability ``label_noise``;
- :meth:`RuleTask.reflect` is the error-driven edit: for a missed positive it switches on
  an inactive rule that fires on the example; for a false alarm it switches off an active
  rule that fires on it (chosen at random among the implicated rules).

Scores come from a small *dev* set (what the search sees, as PromptAgent's batch) and a
large *test* set (what we report), so over-fitting the dev set is visible.
"""

from __future__ import annotations

import itertools

import numpy as np

from creditlab._backend import check_real, make_rng

__all__ = ["RuleTask"]


class RuleTask:
    """See the module docstring.

    Parameters
    ----------
    n_features : int >= 2
    n_true : int >= 1        hidden pair rules behind the labels
    p_feature : float in (0, 1), or (lo, hi) with 0 < lo <= hi < 1
    n_dev, n_test : int >= 1
    label_noise : float in [0, 0.5)
    seed : int

    Attributes
    ----------
    rules : list of tuple[int, ...]    the bank (singles, then pairs), R rules
    true_mask : bool [R]
    X_dev, X_test : bool [n, F];  y_dev, y_test : bool [n]
    fires_dev, fires_test : bool [n, R]   rule r fires on example i
    """

    def __init__(self, n_features: int = 16, n_true: int = 3, p_feature: float = 0.3,
                 n_dev: int = 60, n_test: int = 4000, label_noise: float = 0.05,
                 seed: int = 0) -> None:
        for name, v, lo in (("n_features", n_features, 2), ("n_true", n_true, 1),
                            ("n_dev", n_dev, 1), ("n_test", n_test, 1)):
            if int(v) != v or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {v}")
        if isinstance(p_feature, str):
            raise TypeError(f"p_feature must be a number or a (lo, hi) pair, got {p_feature!r}")
        lo_hi = np.broadcast_to(np.asarray(p_feature, dtype=np.float64), (2,)) \
            if np.ndim(p_feature) <= 1 and np.size(p_feature) in (1, 2) else None
        if lo_hi is None or not (0 < lo_hi[0] <= lo_hi[1] < 1):
            raise ValueError(f"p_feature must be a rate in (0, 1) or a range (lo, hi) inside "
                             f"(0, 1), got {p_feature}")
        if not 0 <= check_real(label_noise, "label_noise") < 0.5:
            raise ValueError(f"label_noise must be in [0, 0.5), got {label_noise}")
        F = int(n_features)
        self.rules: list[tuple[int, ...]] = [(i,) for i in range(F)]
        self.rules += list(itertools.combinations(range(F), 2))
        R = len(self.rules)
        rng = make_rng(seed)
        pairs = np.arange(F, R)
        if n_true > len(pairs):
            raise ValueError(f"n_true must be at most {len(pairs)}, got {n_true}")
        self.p_feature = rng.uniform(lo_hi[0], lo_hi[1], size=F)
        self.true_mask = np.zeros(R, bool)
        self.true_mask[rng.choice(pairs, size=int(n_true), replace=False)] = True
        member = np.zeros((R, F), bool)
        for r, feats in enumerate(self.rules):
            member[r, list(feats)] = True
        self._member = member
        self.X_dev, self.y_dev = self._sample(int(n_dev), label_noise, rng)
        self.X_test, self.y_test = self._sample(int(n_test), label_noise, rng)
        self.fires_dev = self.fires(self.X_dev)
        self.fires_test = self.fires(self.X_test)

    @property
    def num_rules(self) -> int:
        return len(self.rules)

    def fires(self, X: np.ndarray) -> np.ndarray:
        """bool [n, R]: which rules fire on each example (all of the rule's features on)."""
        X = np.asarray(X, bool)
        return (X.astype(np.int64) @ self._member.T.astype(np.int64)) == self._member.sum(1)

    def _sample(self, n: int, noise: float,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        X = rng.random((n, self._member.shape[1])) < self.p_feature
        y = self.fires(X)[:, self.true_mask].any(1)
        return X, y ^ (rng.random(n) < noise)

    def _mask(self, mask: np.ndarray) -> np.ndarray:
        m = np.asarray(mask)
        if m.dtype != np.bool_ or m.shape != (self.num_rules,):
            raise ValueError(f"mask must be a bool array of shape ({self.num_rules},), got "
                             f"{m.dtype} {m.shape}")
        return m

    def predict(self, mask: np.ndarray, split: str = "dev") -> np.ndarray:
        """bool [n]: the classifier's answers on ``split`` ("dev" or "test")."""
        if split not in ("dev", "test"):
            raise ValueError(f"split must be 'dev' or 'test', got {split!r}")
        fires = self.fires_dev if split == "dev" else self.fires_test
        return fires[:, self._mask(mask)].any(1)

    def accuracy(self, mask: np.ndarray, split: str = "dev") -> float:
        y = self.y_dev if split == "dev" else self.y_test
        return float(np.mean(self.predict(mask, split) == y))

    def reflect(self, mask: np.ndarray, rng: np.random.Generator) -> int | None:
        """An error-driven edit: pick a misclassified dev example at random and return the
        index of a rule whose flip would fix it (None when the prompt makes no dev error
        that a flip can fix)."""
        m = self._mask(mask)
        wrong = np.nonzero(self.predict(m) != self.y_dev)[0]
        for i in rng.permutation(wrong):
            fires = self.fires_dev[i]
            cand = np.nonzero(fires & ~m)[0] if self.y_dev[i] else np.nonzero(fires & m)[0]
            if len(cand):
                return int(rng.choice(cand))
        return None
