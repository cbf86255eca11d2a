"""Real-time bidding as an MDP: RLB (Cai et al., WSDM 2017).

synth    seeded synthetic auction logs, one profile per iPinYou campaign; ``load_log``,
         ``load_info`` (real logs and the RLB authors' info.json counts)
dp       the RLB dynamic program (C++ kernel) and the closed-form bid; numpy reference
bidders  Constant, RandomBid, Mcpc, Lin (+ ``tune_lin``), SS-MDP, RLB and ``evaluate``
"""

from creditlab.rtb.bidders import (
    RLB,
    SSMDP,
    Constant,
    EvalResult,
    Lin,
    Mcpc,
    RandomBid,
    episode_budget,
    evaluate,
    simulate,
    tune_lin,
)
from creditlab.rtb.dp import RLBValue, rlb_bid_reference, value_dp, value_dp_reference
from creditlab.rtb.synth import (
    PROFILES,
    AuctionLog,
    Profile,
    auc,
    generate,
    load_info,
    load_log,
    log_info,
    market_price_pdf,
    price_pmf,
)

__all__ = [
    "PROFILES",
    "RLB",
    "SSMDP",
    "AuctionLog",
    "Constant",
    "EvalResult",
    "Lin",
    "Mcpc",
    "Profile",
    "RLBValue",
    "RandomBid",
    "auc",
    "episode_budget",
    "evaluate",
    "generate",
    "load_info",
    "load_log",
    "log_info",
    "market_price_pdf",
    "price_pmf",
    "rlb_bid_reference",
    "simulate",
    "tune_lin",
    "value_dp",
    "value_dp_reference",
]
