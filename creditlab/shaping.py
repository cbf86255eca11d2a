"""Reward transforms: shaping and bounding of step rewards.

Other sections of this module (potential-based shaping, Part III) may live beside the
one below; each section re-exports from or defines its own functions.
"""

# --------------------------------------------------------------------------------------
# Bounding accumulated process reward (book Part II, Chapter 6): Clip and Delta
# (Gao et al. 2024, arXiv:2410.15115) and gated accumulation (G-RA, arXiv:2508.10548).
# Implemented in creditlab/process_rewards.py; re-exported here.
from creditlab.process_rewards import clip_process, delta_process, gated_accumulate

__all__ = ["clip_process", "delta_process", "gated_accumulate"]
