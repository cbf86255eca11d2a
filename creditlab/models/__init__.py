"""Small models used as stand-ins in the book (needs torch; not imported by ``import creditlab``).

``tinylm``   :class:`TinyTextLM`, a one-layer GRU language model with the interfaces of
             RL-for-LLM code (per-token log-probs and masks, sampling with EOS, KL to a
             reference, EMA copies, save/load to bytes); Parts III-V
``diffusion2d`` :class:`Toy2DDiffusion`, a DDPM on 2-D points with per-step Gaussian
             transitions, log-probs, M candidates per step and x0-hat; seeded ring data
             (Ch19, 24)
``nets``     :class:`MLP`, :class:`TinyCNN` (16x16 / 32x32 frames), :class:`GaussianPolicy`
             (state or frames), shared by the control chapters (Ch20, 22, 23)
``dynamics`` :class:`DynamicsEnsemble`: M Gaussian next-state models (and next-frame
             heads) with disagreement and sampling (Ch20, 23); MOREC-style
             :class:`TransitionDiscriminator` and :func:`filtered_step` (Ch20)
``joint``    :class:`JointPolicyWorldValue`: Cosmos-Policy-style action chunk, future state
             and value in one module (Ch20)
``embeddings`` :class:`SyntheticCLIP` (image and text embeddings of PointReach states with
             task, context and nuisance directions) and :class:`HashedTextEncoder` (a
             sentence-embedding stand-in), Ch22
``reward_model`` Cooper-style contrastive updates of a reward model and MRMBench-style
             probe confidence (Ch8)
``corpora``  seeded synthetic corpora with a vocabulary and exact checkers: arithmetic
             with thoughts, dialogues with a hidden rule, scene captions, instructions with
             judgments
"""

from creditlab.models import (
    corpora,
    diffusion2d,
    dynamics,
    embeddings,
    joint,
    nets,
    reward_model,
    tinylm,
)
from creditlab.models.corpora import *  # noqa: F403
from creditlab.models.diffusion2d import *  # noqa: F403
from creditlab.models.dynamics import *  # noqa: F403
from creditlab.models.embeddings import *  # noqa: F403
from creditlab.models.joint import *  # noqa: F403
from creditlab.models.nets import *  # noqa: F403
from creditlab.models.reward_model import *  # noqa: F403
from creditlab.models.tinylm import *  # noqa: F403

__all__ = ["corpora", "diffusion2d", "dynamics", "embeddings", "joint", "nets",
           "reward_model", "tinylm", *corpora.__all__, *diffusion2d.__all__,
           *dynamics.__all__, *embeddings.__all__, *joint.__all__, *nets.__all__,
           *reward_model.__all__, *tinylm.__all__]
