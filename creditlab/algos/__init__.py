"""Small readable training loops used by the book's chapters.

``stepchain_pg``  policy gradient on StepChain (REINFORCE with RLOO/GRPO baselines, PPO-clip
                  option, token-mean loss, KL to the initial policy) with a credit-assignment
                  switch: sum, min, softmin, mean, clip, delta, gated, none (Part II).

Needs torch (imported when this package is imported, not by ``import creditlab``).
"""

from creditlab.algos.stepchain_pg import (
    CREDITS,
    MLPPolicy,
    PGConfig,
    TrainResult,
    advantages,
    credit_returns,
    evaluate,
    run_arms,
    sample_episodes,
    sft_init,
    summarize,
    train,
)

__all__ = [
    "CREDITS",
    "MLPPolicy",
    "PGConfig",
    "TrainResult",
    "advantages",
    "credit_returns",
    "evaluate",
    "run_arms",
    "sample_episodes",
    "summarize",
    "sft_init",
    "train",
]
