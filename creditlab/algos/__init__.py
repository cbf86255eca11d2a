"""Small readable training loops used by the book's chapters.

``stepchain_pg``  policy gradient on StepChain (REINFORCE with RLOO/GRPO baselines, PPO-clip
                  option, token-mean loss, KL to the initial policy) with a credit-assignment
                  switch: sum, min, softmin, mean, clip, delta, gated, none (Part II).
``sequence_rl``   supervised pre-training of TinyTextLM and sequence-level GRPO / RLOO /
                  PPO-clip on its sampled responses, sequence or token rewards, KL to a
                  reference (Parts III-V).
``control``       behaviour cloning of a Gaussian policy and a compact PPO-clip on
                  PointReach (state observations; Ch20, 22, 23).
``pg_losses``     ratio guards for PPO-family losses: StableReinforce's Pre-CLIP (Ch8).
``tooltree_pg``   tabular softmax PG on ToolTree tree rollouts: GRPO vs PORTool-style
                  fork- and trajectory-relative credit (Ch11; import the module).
``gflownet``      GFlowNet residuals (DB, TB, forward-looking DB) over batches of
                  transitions and a tabular HyperGrid trainer (Ch11; import the module).
``curiosity``     tabular Q-learning on an intrinsic bonus alone; records TV time and
                  coverage on the noisy-TV grid (Ch16; import the module).
``offline``       weighted IQL critic, BPPO and AWR on a fixed dataset (Q-Evolve-style, Ch12).
``guided``        learning from one's own past and future (Ch17; import the module): HeRL's
                  bonus and off-policy loss with hinted re-attempts on a rubric StepChain,
                  NPO-style guide mixing and S = Q/V, temporal self-rewarding DPO.
``token_values``  token values Q(s, .) of a frozen TinyTextLM fitted by TD(lambda) on its own
                  samples, for value-augmented decoding (VAS-style, Ch19; import the module).

Needs torch (imported when this package is imported, not by ``import creditlab``).
"""

from creditlab.algos import control, offline, pg_losses, sequence_rl, stepchain_pg
from creditlab.algos.control import *  # noqa: F403  (the names in its __all__)
from creditlab.algos.offline import *  # noqa: F403  (the names in its __all__)
from creditlab.algos.pg_losses import *  # noqa: F403  (the names in its __all__)
from creditlab.algos.sequence_rl import *  # noqa: F403  (the names in its __all__)
from creditlab.algos.stepchain_pg import *  # noqa: F403  (the names in its __all__)

__all__ = [*stepchain_pg.__all__, *sequence_rl.__all__, *control.__all__, *pg_losses.__all__,
           *offline.__all__]
