"""Chapter 19 exercises: value-guided sampling without fine-tuning. Replace each ``raise``."""

from __future__ import annotations

import numpy as np


def value_augmented_logits(base_logits: np.ndarray, values: np.ndarray, beta: float,
                           top_k: int) -> np.ndarray:
    """VAS's decoding rule for one row: keep the tokens whose base logit is at least the
    ``top_k``-th largest (ties kept); on them return ``base_logits + beta * (values - mean of
    values over the kept tokens)``; every other entry is ``-inf``. base_logits, values:
    float [V]; returns float [V]."""
    # YOUR CODE HERE
    raise NotImplementedError


def bon_binary_kl(p: float, n: int) -> float:
    """The exact KL(best-of-n || base) for a 0/1 reward whose base success rate is p in
    (0, 1): with q = 1 - (1 - p)^n, KL = q log(q / p) + (1 - q) log((1 - q) / (1 - p))."""
    # YOUR CODE HERE
    raise NotImplementedError


def soft_value(rewards: np.ndarray, alpha: float) -> float:
    """SVDD's Monte Carlo soft value of K rollouts' rewards: alpha * log(mean(exp(r / alpha))),
    and max(r) when alpha == 0. Compute it without overflow for small alpha."""
    # YOUR CODE HERE
    raise NotImplementedError
