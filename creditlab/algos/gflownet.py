r"""GFlowNet losses (DB, TB, forward-looking DB) over batches of transitions, and a small
tabular trainer on :class:`creditlab.envs.hypergrid.HyperGrid` (Ch11).

All residuals are vectorised over a batch (torch tensors, any shape, broadcast together);
a loss is the mean of their squares.

- **Detailed balance** (DB; Bengio et al. 2023, "GFlowNet Foundations"), per edge
  :math:`s \to s'`: :math:`\log F(s) + \log P_F(s'|s) - \log F(s') - \log P_B(s|s')`,
  with :math:`\log F(s') := \log R(x)` on a terminating edge.
- **Trajectory balance** (TB; Malkin et al. 2022, arXiv 2201.13259), per trajectory:
  :math:`\log Z + \sum_t \log P_F - \log R(x) - \sum_t \log P_B`.
- **Forward-looking DB** (FL-DB; Pan, Malkin, Zhang, Bengio 2023, "Better Training of
  GFlowNets with Local Credit and Incomplete Trajectories", arXiv 2302.01687), with an
  energy :math:`E` defined on every state and :math:`R = e^{-E}`:
  :math:`\log \tilde F(s) + \log P_F(s'|s) - \log \tilde F(s') - \log P_B(s|s') + E(s') -
  E(s)`, with :math:`\log \tilde F := 0` at terminal states (the authors' public code,
  ``forwardlooking_loss``; the project's ``research/formulas.md`` [42]). It is DB
  re-parametrised by :math:`\log F(s) = \log \tilde F(s) - E(s)`: the flow learns only the
  part of the log-flow the energies do not already give, and every edge's residual needs
  the energy at its two ends only, so incomplete trajectories carry signal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from creditlab._backend import check_int, check_positive, check_real, check_seed
from creditlab.envs.hypergrid import HyperGrid
from creditlab.progress import tqdm

__all__ = ["GFN_LOSSES", "GFNResult", "db_residual", "fldb_residual", "tb_residual",
           "train_gflownet"]

GFN_LOSSES = ("db", "tb", "fldb")


def _t(x: object, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        if not x.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got {x.dtype}")
        return x
    if isinstance(x, (int, float, np.ndarray, np.floating, list, tuple)):
        a = np.asarray(x)
        if a.dtype.kind not in "iuf":
            raise TypeError(f"{name} must be numeric, got dtype {a.dtype}")
        return torch.as_tensor(a, dtype=torch.float64)
    raise TypeError(f"{name} must be a torch tensor or numpy array, got {type(x).__name__}")


def db_residual(log_flow: object, log_pf: object, log_flow_next: object,
                log_pb: object) -> torch.Tensor:
    r"""Detailed-balance residual per edge (shapes broadcast; any float dtype).

    :math:`\delta = \log F(s) + \log P_F(s'|s) - \log F(s') - \log P_B(s|s')`; pass
    :math:`\log R(x)` as ``log_flow_next`` and 0 as ``log_pb`` on terminating edges.
    """
    a, b, c, d = (_t(x, n) for x, n in ((log_flow, "log_flow"), (log_pf, "log_pf"),
                                         (log_flow_next, "log_flow_next"),
                                         (log_pb, "log_pb")))
    return a + b - c - d


def tb_residual(log_z: object, sum_log_pf: object, log_reward: object,
                sum_log_pb: object) -> torch.Tensor:
    r"""Trajectory-balance residual per trajectory:
    :math:`\log Z + \sum_t \log P_F - \log R(x) - \sum_t \log P_B` (shapes broadcast)."""
    a, b, c, d = (_t(x, n) for x, n in ((log_z, "log_z"), (sum_log_pf, "sum_log_pf"),
                                         (log_reward, "log_reward"),
                                         (sum_log_pb, "sum_log_pb")))
    return a + b - c - d


def fldb_residual(log_flow_tilde: object, log_pf: object, log_flow_tilde_next: object,
                  log_pb: object, energy: object, energy_next: object,
                  next_terminal: object) -> torch.Tensor:
    r"""Forward-looking DB residual per edge (shapes broadcast).

    :math:`\delta = \log \tilde F(s) + \log P_F(s'|s) - \log \tilde F(s') - \log P_B(s|s')
    + E(s') - E(s)`, with :math:`\log \tilde F(s') := 0` where ``next_terminal`` (bool)
    is True. On a terminating edge of a grid whose terminal object is the stopped state,
    :math:`E(s') = E(s)`.
    """
    term = next_terminal
    if not isinstance(term, torch.Tensor):
        term = torch.as_tensor(np.asarray(term))
    if term.dtype != torch.bool:
        raise TypeError(f"next_terminal must be a bool array, got {term.dtype}")
    nxt = _t(log_flow_tilde_next, "log_flow_tilde_next")
    nxt = torch.where(term, torch.zeros_like(nxt), nxt)
    return (_t(log_flow_tilde, "log_flow_tilde") + _t(log_pf, "log_pf") - nxt
            - _t(log_pb, "log_pb") + _t(energy_next, "energy_next") - _t(energy, "energy"))


@dataclass
class GFNResult:
    history: dict[str, np.ndarray]   # step, l1 (to the target), loss
    log_flow: np.ndarray             # float64 [S]: the learned log F (or log F~ for fldb)
    logits: np.ndarray               # float64 [S, D+1]


def _pf(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(logits.masked_fill(~mask, -1e30), -1)


def train_gflownet(loss: str, seed: int, env: HyperGrid | None = None, *, steps: int = 300,
                   batch: int = 16, lr: float = 0.1, max_len: int | None = None,
                   flow_init: np.ndarray | None = None, explore: float = 0.0,
                   optimizer: str = "adam", eval_every: int = 10,
                   progress: bool = False) -> GFNResult:
    """Train a tabular GFlowNet (log-flow per state, forward logits, log Z; uniform P_B).

    Parameters
    ----------
    loss : {"db", "tb", "fldb"}
    seed : int
    env : HyperGrid, default ``HyperGrid(8, 2)``
    steps, batch : int
        Adam steps, and trajectories sampled on-policy per step (the same for every loss).
    lr : float
    max_len : int, optional
        Incomplete trajectories: each is ``max_len`` increments sampled with the stop
        action disabled and cut there, so no trajectory reaches a terminal object and no
        reward is observed. DB trains on the increments (it has no reward term to use);
        FL-DB also on the stop edges of the visited states, whose residual
        ``log F~(s) + log P_F(stop|s)`` needs no reward (``log F~ = 0`` at terminals and
        the energies cancel), but FL-DB reads ``E(s)`` at every visited state, which here
        is the reward of stopping there: *unequal information*. TB cannot be trained
        (ValueError). Needs ``max_len <= D*(H-1) - 1``.
    flow_init : float [S], optional
        Initial log-flow (default zeros).
    explore : float in [0, 1]
        Trajectories are sampled from ``(1 - explore) * P_F + explore * uniform`` over the
        allowed actions (off-policy exploration; the losses are evaluated on ``P_F``).
    optimizer : {"adam", "sgd"}
    eval_every : int

    Returns
    -------
    GFNResult; ``history["l1"]`` is the exact L1 distance between the policy's terminal
    distribution and ``R / Z``.
    """
    if loss not in GFN_LOSSES:
        raise ValueError(f"loss must be one of {GFN_LOSSES}, got {loss!r}")
    env = env or HyperGrid()
    if max_len is not None:
        max_len = check_int(max_len, "max_len", 1)
        if loss == "tb":
            raise ValueError("loss='tb' needs complete trajectories; pass max_len=None")
        if max_len > env.D * (env.H - 1) - 1:
            raise ValueError(f"max_len must be <= D*(H-1) - 1 = {env.D * (env.H - 1) - 1}")
    steps = check_int(steps, "steps", 1)
    batch = check_int(batch, "batch", 1)
    check_positive(lr, "lr")
    if check_seed(seed) is None:
        raise TypeError("seed must be an int >= 0, got None")
    torch.set_num_threads(1)
    rng = np.random.default_rng(seed)
    S, A = env.n_states, env.n_actions
    f0 = np.zeros(S) if flow_init is None else np.asarray(flow_init, np.float64)
    if f0.shape != (S,):
        raise ValueError(f"flow_init must have shape [{S}], got {f0.shape}")
    logF = torch.tensor(f0, dtype=torch.float64, requires_grad=True)
    logits = torch.zeros(S, A, dtype=torch.float64, requires_grad=True)
    logZ = torch.zeros((), dtype=torch.float64, requires_grad=True)
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    explore = check_real(explore, "explore")
    if not 0.0 <= explore <= 1.0:
        raise ValueError(f"explore must be in [0, 1], got {explore}")
    opt = (torch.optim.Adam if optimizer == "adam" else torch.optim.SGD)(
        [logF, logits, logZ], lr=lr)
    mask = torch.as_tensor(env.action_mask())
    E = torch.as_tensor(env.energy)
    log_pb_all = torch.as_tensor(-np.log(np.maximum(env.n_parents(), 1)), dtype=torch.float64)
    target = env.target
    hist: dict[str, list[float]] = {"step": [], "l1": [], "loss": []}

    def log(it: int, value: float) -> None:
        with torch.no_grad():
            pf = _pf(logits, mask).exp().numpy()
        hist["step"].append(it)
        hist["l1"].append(float(np.abs(env.terminal_distribution(pf) - target).sum()))
        hist["loss"].append(value)

    log(0, float("nan"))
    for it in tqdm(range(1, steps + 1), disable=not progress, leave=False, desc=loss):
        with torch.no_grad():
            pf_np = _pf(logits, mask).exp().numpy()
        if explore > 0:
            uni = env.action_mask() / env.action_mask().sum(1, keepdims=True)
            pf_np = (1 - explore) * pf_np + explore * uni
        if max_len is not None:
            pf_np = pf_np.copy()
            pf_np[:, env.D] = 0.0
        tr = env.sample(pf_np, batch, rng, max_len)
        if max_len is not None and loss == "fldb":  # the reward-free stop edges
            vis = np.concatenate([tr["s"], tr["last"]])  # every visited state
            n_vis = len(vis)
            tr = {"s": np.concatenate([tr["s"], vis]),
                  "a": np.concatenate([tr["a"], np.full(n_vis, env.D)]),
                  "s_next": np.concatenate([tr["s_next"], np.full(n_vis, -1)]),
                  "stop": np.concatenate([tr["stop"], np.ones(n_vis, bool)])}
        s, a, stop = (torch.as_tensor(tr[k]) for k in ("s", "a", "stop"))
        nxt = torch.as_tensor(np.where(tr["stop"], tr["s"], tr["s_next"]))
        lpf = _pf(logits, mask)[s, a]
        lpb = torch.where(stop, torch.zeros(()), log_pb_all[nxt])
        if loss == "db":
            res = db_residual(logF[s], lpf, torch.where(stop, -E[s], logF[nxt]), lpb)
        elif loss == "fldb":
            res = fldb_residual(logF[s], lpf, logF[nxt], lpb, E[s], E[nxt], stop)
        else:
            traj = torch.as_tensor(tr["traj"])
            complete = np.zeros(batch, bool)
            complete[tr["traj"][tr["stop"]]] = True
            if not complete.any():
                hist_v = float("nan")
                if it % eval_every == 0 or it == steps:
                    log(it, hist_v)
                continue
            spf = torch.zeros(batch, dtype=torch.float64).index_add(0, traj, lpf)
            spb = torch.zeros(batch, dtype=torch.float64).index_add(0, traj, lpb)
            keep = torch.as_tensor(complete)
            last = torch.as_tensor(tr["last"])
            res = tb_residual(logZ, spf[keep], -E[last[keep]], spb[keep])
        value = (res**2).mean()
        opt.zero_grad()
        value.backward()
        opt.step()
        if it % eval_every == 0 or it == steps:
            log(it, float(value.detach()))
    return GFNResult({k: np.asarray(v) for k, v in hist.items()}, logF.detach().numpy().copy(),
                     logits.detach().numpy().copy())
