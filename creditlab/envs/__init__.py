"""gymnasium environments, registered as ``creditlab/<Name>-v0`` on import.

Each environment with a finite state space exposes its tabular model so exact methods
(:mod:`creditlab.tabular`) run on it: ``P[s, a, s']`` transition probabilities,
``R[s, a, s']`` expected rewards and ``terminal[s]``.
"""

from gymnasium.envs.registration import register, registry

from creditlab.envs.blocksworld import BlocksworldEnv
from creditlab.envs.chain import ChainEnv
from creditlab.envs.deceptive_chain import DeceptiveChainEnv
from creditlab.envs.rollout import Rollout, rollout

__all__ = ["BlocksworldEnv", "ChainEnv", "DeceptiveChainEnv", "Rollout", "rollout"]

if "creditlab/Chain-v0" not in registry:
    register(
        id="creditlab/Chain-v0",
        entry_point="creditlab.envs.chain:ChainEnv",
        max_episode_steps=100,
    )

if "creditlab/Blocksworld-v0" not in registry:
    register(
        id="creditlab/Blocksworld-v0",
        entry_point="creditlab.envs.blocksworld:BlocksworldEnv",
        max_episode_steps=50,
    )
if "creditlab/DeceptiveChain-v0" not in registry:
    register(
        id="creditlab/DeceptiveChain-v0",
        entry_point="creditlab.envs.deceptive_chain:DeceptiveChainEnv",
        max_episode_steps=200,
    )
