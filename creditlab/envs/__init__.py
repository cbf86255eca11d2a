"""gymnasium environments, registered as ``creditlab/<Name>-v0`` on import.

Each environment with a finite state space exposes its tabular model so exact methods
(:mod:`creditlab.tabular`) run on it: ``P[s, a, s']`` transition probabilities,
``R[s, a, s']`` expected rewards and ``terminal[s]``.
"""

from gymnasium.envs.registration import register, registry

from creditlab.envs.chain import ChainEnv
from creditlab.envs.rollout import Rollout, rollout
from creditlab.envs.stepchain import StepChainBatch, StepChainConfig, StepChainEnv

__all__ = [
    "ChainEnv",
    "Rollout",
    "rollout",
    "StepChainBatch",
    "StepChainConfig",
    "StepChainEnv",
]

if "creditlab/Chain-v0" not in registry:
    register(
        id="creditlab/Chain-v0",
        entry_point="creditlab.envs.chain:ChainEnv",
        max_episode_steps=100,
    )

if "creditlab/StepChain-v0" not in registry:
    register(
        id="creditlab/StepChain-v0",
        entry_point="creditlab.envs.stepchain:StepChainEnv",
    )
