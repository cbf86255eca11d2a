"""Small readable training loops used by the book's chapters.

``stepchain_pg``  policy gradient on StepChain (REINFORCE with RLOO/GRPO baselines, PPO-clip
                  option, token-mean loss, KL to the initial policy) with a credit-assignment
                  switch: sum, min, softmin, mean, clip, delta, gated, none (Part II).

Needs torch (imported when this package is imported, not by ``import creditlab``).
"""

from creditlab.algos import stepchain_pg
from creditlab.algos.stepchain_pg import *  # noqa: F403  (the names in its __all__)

__all__ = list(stepchain_pg.__all__)
