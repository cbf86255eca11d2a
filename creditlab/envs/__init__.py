"""gymnasium environments, registered as ``creditlab/<Name>-v0`` on import.

Each environment with a finite state space exposes its tabular model so exact methods
(:mod:`creditlab.tabular`) run on it: ``P[s, a, s']`` transition probabilities,
``R[s, a, s']`` expected rewards and ``terminal[s]``.
"""

from gymnasium.envs.registration import register, registry

from creditlab.envs.chain import ChainEnv
from creditlab.envs.rollout import Rollout, rollout

__all__ = ["ChainEnv", "Rollout", "rollout"]

if "creditlab/Chain-v0" not in registry:
    register(
        id="creditlab/Chain-v0",
        entry_point="creditlab.envs.chain:ChainEnv",
        max_episode_steps=100,
    )

# Gridworld family (creditlab.envs.gridworld): sparse goal, key-door, lava, cycle.
from creditlab.envs.gridworld import GridWorldEnv  # noqa: E402

__all__ += ["GridWorldEnv"]

for _id, _layout in (
    ("creditlab/GridWorld-v0", "sparse"),
    ("creditlab/GridWorldKeyDoor-v0", "key_door"),
    ("creditlab/GridWorldLava-v0", "lava"),
    ("creditlab/GridWorldCycle-v0", "cycle"),
):
    if _id not in registry:
        register(
            id=_id,
            entry_point="creditlab.envs.gridworld:GridWorldEnv",
            kwargs={"layout": _layout},
            max_episode_steps=200,
        )

# Real-time bidding (creditlab.envs.rtb): budget-constrained auctions, Cai et al. 2017.
from creditlab.envs.rtb import RTBEnv  # noqa: E402

__all__ += ["RTBEnv"]

if "creditlab/RealTimeBidding-v0" not in registry:
    register(id="creditlab/RealTimeBidding-v0", entry_point="creditlab.envs.rtb:RTBEnv")
