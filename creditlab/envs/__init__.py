"""gymnasium environments, registered as ``creditlab/<Name>-v0`` on import.

Each environment with a finite state space exposes its tabular model so exact methods
(:mod:`creditlab.tabular`) run on it: ``P[s, a, s']`` transition probabilities,
``R[s, a, s']`` expected rewards and ``terminal[s]``.
"""

from gymnasium.envs.registration import register, registry

from creditlab.envs.blocksworld import BlocksworldEnv
from creditlab.envs.chain import ChainEnv
from creditlab.envs.clutter import HiddenTargetClutter
from creditlab.envs.deceptive_chain import DeceptiveChainEnv
from creditlab.envs.gridworld import GridWorldEnv
from creditlab.envs.kitchen import KitchenTextEnv, KitchenWorld
from creditlab.envs.noisy_tv import NoisyTVGridEnv
from creditlab.envs.pointreach import PointReachBatch, PointReachEnv
from creditlab.envs.pointreach_demos import Demos, demonstrations, scripted_action
from creditlab.envs.rollout import Rollout, rollout
from creditlab.envs.rtb import RTBEnv
from creditlab.envs.stepchain import StepChainBatch, StepChainConfig, StepChainEnv

__all__ = [
    "BlocksworldEnv",
    "ChainEnv",
    "DeceptiveChainEnv",
    "Demos",
    "GridWorldEnv",
    "HiddenTargetClutter",
    "KitchenTextEnv",
    "KitchenWorld",
    "NoisyTVGridEnv",
    "PointReachBatch",
    "PointReachEnv",
    "RTBEnv",
    "Rollout",
    "StepChainBatch",
    "StepChainConfig",
    "StepChainEnv",
    "demonstrations",
    "rollout",
    "scripted_action",
]

_REGISTRY: list[tuple[str, str, dict, int | None]] = [
    # (id, entry point, kwargs, time limit; None: the environment ends episodes itself)
    ("creditlab/Chain-v0", "creditlab.envs.chain:ChainEnv", {}, 100),
    # gridworld family: sparse goal, key-door, lava (with a cost signal), positive cycle
    ("creditlab/GridWorld-v0", "creditlab.envs.gridworld:GridWorldEnv", {"layout": "sparse"}, 200),
    ("creditlab/GridWorldKeyDoor-v0", "creditlab.envs.gridworld:GridWorldEnv",
     {"layout": "key_door"}, 200),
    ("creditlab/GridWorldLava-v0", "creditlab.envs.gridworld:GridWorldEnv",
     {"layout": "lava"}, 200),
    ("creditlab/GridWorldCycle-v0", "creditlab.envs.gridworld:GridWorldEnv",
     {"layout": "cycle"}, 200),
    ("creditlab/GridWorldKeyDoorDecoy-v0", "creditlab.envs.gridworld:GridWorldEnv",
     {"layout": "key_door_decoy", "size": 8}, 200),
    # Chapter 16: a key-door gridworld with a noisy TV (channels=1: the TV is off)
    ("creditlab/GridWorldNoisyTV-v0", "creditlab.envs.noisy_tv:NoisyTVGridEnv", {}, 100),
    # Part II: a synthetic reasoning MDP for process rewards
    ("creditlab/StepChain-v0", "creditlab.envs.stepchain:StepChainEnv", {}, None),
    # Part VI: planning
    ("creditlab/Blocksworld-v0", "creditlab.envs.blocksworld:BlocksworldEnv", {}, 50),
    ("creditlab/DeceptiveChain-v0", "creditlab.envs.deceptive_chain:DeceptiveChainEnv", {}, 200),
    # Chapter 4: real-time bidding (budget-constrained auctions, Cai et al. 2017)
    ("creditlab/RealTimeBidding-v0", "creditlab.envs.rtb:RTBEnv", {}, None),
    # Chapters 20, 22, 23: a rendered 2-D reaching task with stages and nuisances
    ("creditlab/PointReach-v0", "creditlab.envs.pointreach:PointReachEnv", {}, 50),
    ("creditlab/PointReachObstacle-v0", "creditlab.envs.pointreach:PointReachEnv",
     {"layout": "obstacle"}, 50),
    ("creditlab/PointReachMultistage-v0", "creditlab.envs.pointreach:PointReachEnv",
     {"layout": "wall", "task": (0, 1, 2)}, 150),
    ("creditlab/PointReachPixels-v0", "creditlab.envs.pointreach:PointReachEnv",
     {"obs": "pixels"}, 50),
    ("creditlab/PointReachDistractors-v0", "creditlab.envs.pointreach:PointReachEnv",
     {"obs": "pixels", "distractors": 3, "colour_noise": 0.1}, 50),
    ("creditlab/PointReachMultistagePixels-v0", "creditlab.envs.pointreach:PointReachEnv",
     {"layout": "wall", "task": (0, 1, 2), "obs": "both", "distractors": 2}, 150),
    # Chapter 22: a text kitchen (StateFactory-style object-attribute states)
    ("creditlab/KitchenText-v0", "creditlab.envs.kitchen:KitchenTextEnv", {}, 20),
    ("creditlab/PointReachArm-v0", "creditlab.envs.pointreach:PointReachEnv",
     {"body": "arm"}, 80),
]

for _id, _entry, _kwargs, _limit in _REGISTRY:
    if _id not in registry:
        register(id=_id, entry_point=_entry, kwargs=_kwargs, max_episode_steps=_limit)
