"""creditlab: credit assignment and reward design in reinforcement learning.

The importable library behind the creditlab book. Importing it needs only numpy; torch
is imported lazily, when a torch tensor is passed in.

Main modules
------------
returns     sum-form and min-form returns, GAE, lambda-returns (one reverse-scan core)
advantages  group advantages (GRPO, RLOO, Dr.GRPO) and masked whitening
reference   the plain-Python loops every kernel is checked against (what the book shows)
envs        gymnasium environments, registered as ``creditlab/<Name>-v0``
plot        the book's matplotlib style
exploration curiosity bonuses: prediction error (ICM-style) and Hindsight-style (Ch16)
exercises   homework stubs, graded by ``creditlab.check`` (also ``python -m creditlab.check``)
tabular     exact and sample-based methods for tabular MDPs (value iteration, Q-learning)
shaping     reward transforms: potential-based shaping (and naive bonuses for contrast),
            ShapedReward wrapper; Clip, Delta and gated accumulation of process rewards
metrics     reward distances (EPIC, STARC) and regret
constrained Lagrangian methods with a user-set cost threshold
rewards     StepChain's hackable process reward models and verifiable outcome (Part II)
trees       array trees and backup kernels; planning: batched MCTS, lookahead (Part VI)
algos       small training loops (needs torch; imported on its own, not here)
models      TinyTextLM and its synthetic corpora (needs torch; imported on its own)
prefs       preference losses: Bradley-Terry, DPO, IPO, unlikelihood; pair mining
rtb         real-time bidding as an MDP (RLB): auction logs, the budget DP, bidders
seeds, seed the chapters' seeds; CREDITLAB_SEEDS / CREDITLAB_SEED override them
"""

__version__ = "0.1.0"

from creditlab import (  # noqa: E402, I001
    advantages,
    check,  # a callable module: creditlab.check("ch01.gae", fn); python -m creditlab.check
    constrained,
    envs,  # registers the gymnasium environments
    exploration,
    metrics,
    process_rewards,
    reference,
    returns,
    rewards,
    rtb,
    shaping,
    tabular,
)
from creditlab._backend import backend_info, use_backend
from creditlab._seeds import seed, seeds
from creditlab.advantages import dr_grpo, grpo, masked_whiten, rloo
from creditlab.returns import (
    discounted_returns,
    gae,
    lambda_returns,
    min_form_returns,
    softmin_transform,
)

__all__ = [
    "__version__",
    "advantages",
    "backend_info",
    "check",
    "constrained",
    "discounted_returns",
    "dr_grpo",
    "envs",
    "exploration",
    "gae",
    "grpo",
    "lambda_returns",
    "masked_whiten",
    "metrics",
    "min_form_returns",
    "process_rewards",
    "reference",
    "require",
    "returns",
    "rewards",
    "rloo",
    "seed",
    "seeds",
    "shaping",
    "softmin_transform",
    "tabular",
    "rtb",
    "use_backend",
]


def require(version: str) -> None:
    """Check that the installed creditlab is at least ``version`` (same major).

    Every chapter calls this first, so a notebook written for 0.1 fails loudly on an
    older or incompatible library instead of computing something subtly different.

    Parameters
    ----------
    version : str
        ``"MAJOR.MINOR"`` or ``"MAJOR.MINOR.PATCH"`` the chapter was written for.
    """

    if not isinstance(version, str):
        raise TypeError(f"version must be a string like '0.1', got {type(version).__name__}")

    def parse(v: str) -> tuple[int, ...]:
        try:
            return tuple(int(p) for p in v.split(".")[:3])
        except ValueError:
            raise ValueError(f"version must look like '0.1' or '0.1.0', got {v!r}") from None

    want, have = parse(version), parse(__version__)
    if have[0] != want[0] or have < want:
        raise RuntimeError(
            f"this material needs creditlab {version} (same major version, or newer); "
            f"creditlab {__version__} is installed. Reinstall with `pip install -e .` "
            "from the book's repository."
        )
