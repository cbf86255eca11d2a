"""TinyTextLM: a one-layer GRU language model, the stand-in for an LLM in Parts III-V.

The interface is the one RL-for-LLM code uses, at a size that trains from scratch on one
CPU core in seconds:

- :meth:`TinyTextLM.logprobs` — per-token log-probabilities of given responses after
  given prompts, ``[B, T]``, with the response mask (batch-major, time last, as in
  ``creditlab.returns`` / ``creditlab.advantages``);
- :meth:`TinyTextLM.sample` — sampled responses, their per-token log-probabilities and
  the response mask, EOS handled like verl's ``get_response_mask`` (the first EOS is
  part of the response, everything after it is masked);
- :func:`kl` / :func:`kl_penalty` — per-token KL to a reference model (k1, k2, k3 or the
  exact KL over the vocabulary);
- :func:`ema_copy` / :func:`ema_update` — a frozen exponential-moving-average copy;
- :meth:`TinyTextLM.to_bytes` / :meth:`TinyTextLM.from_bytes` — save and load without files.

Sequences are laid out as ``[BOS] + prompt + response``; the token at position ``i`` is
predicted from the hidden state after position ``i - 1``, so a response's log-probs do
not depend on right padding. Token ids: ``0`` is PAD, ``1`` BOS, ``2`` EOS (see
:class:`creditlab.models.corpora.Vocab`).

Determinism: the initial weights depend only on ``seed``; :meth:`TinyTextLM.sample`
draws from its own ``torch.Generator``; with ``torch.set_num_threads(1)`` two runs with
the same seeds give identical numbers.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from creditlab._backend import check_int, check_real
from creditlab.models._serial import BytesMixin

__all__ = [
    "BOS",
    "EOS",
    "PAD",
    "KL_KINDS",
    "TinyTextLM",
    "ema_copy",
    "ema_update",
    "kl",
    "kl_penalty",
    "pad_sequences",
    "response_mask",
]

PAD, BOS, EOS = 0, 1, 2
#: kinds understood by :func:`kl_penalty` (verl names in brackets: k1 "kl", k2 "mse",
#: k3 "low_var_kl"); "full" is the exact KL over the vocabulary (needs the models)
KL_KINDS = ("k1", "k2", "k3", "abs", "full")


def _int(x: Any, name: str, lo: int) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {x!r}")
    return int(x)


def pad_sequences(seqs: Any, name: str = "seqs", pad: int = PAD) -> tuple[torch.Tensor,
                                                                          torch.Tensor]:
    """Right-pad ragged token-id sequences into ``[B, L]`` int64 ids and a bool mask.

    Parameters
    ----------
    seqs : sequence of sequences of int, or a 2-D integer array / tensor
        Ragged lists are padded with ``pad``; a 2-D array is taken as is (mask all True).
        Ids must be >= 0; they are not bounded above here (the model checks them
        against its vocabulary).
    name : str
        Argument name used in error messages.
    pad : int >= 0

    Returns
    -------
    ids : torch.Tensor [B, L] int64
    mask : torch.Tensor [B, L] bool
        True on real tokens.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    pad = check_int(pad, "pad", 0)
    if isinstance(seqs, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of token-id sequences, got a string")
    if isinstance(seqs, (np.ndarray, torch.Tensor)):
        t = torch.as_tensor(seqs)
        if t.ndim != 2:
            raise ValueError(f"{name} must be 2-D [B, L], got shape {tuple(t.shape)}")
        if t.dtype.is_floating_point or t.dtype == torch.bool or t.is_complex():
            raise TypeError(f"{name} must hold integer token ids, got {t.dtype}")
        t = t.to(torch.int64)
        if t.numel() and int(t.min()) < 0:
            raise ValueError(f"{name} must hold token ids >= 0, got {int(t.min())}")
        return t, torch.ones_like(t, dtype=torch.bool)
    try:
        rows = [list(s) for s in seqs]
    except TypeError as e:
        raise TypeError(f"{name} must be a sequence of token-id sequences") from e
    if not rows:
        raise ValueError(f"{name} must hold at least one sequence")
    L = max(len(r) for r in rows)
    ids = torch.full((len(rows), L), pad, dtype=torch.int64)
    mask = torch.zeros((len(rows), L), dtype=torch.bool)
    for i, r in enumerate(rows):
        for v in r:
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"{name}[{i}] must hold integer token ids, got {v!r}")
            if v < 0:
                raise ValueError(f"{name}[{i}] must hold token ids >= 0, got {v}")
        if r:
            ids[i, : len(r)] = torch.tensor(r, dtype=torch.int64)
            mask[i, : len(r)] = True
    return ids, mask


def response_mask(responses: Any, eos_id: int = EOS) -> torch.Tensor:
    """verl's response mask: True up to and including the first ``eos_id`` of each row.

    .. math:: m_t = 1\\left[\\sum_{s < t} 1[y_s = \\mathrm{EOS}] = 0\\right]

    (verl ``get_response_mask``: ``(eos.cumsum(1) - eos) == 0``). A row without EOS is
    a truncated response: all of it is kept.

    Parameters
    ----------
    responses : int array / tensor [B, T]
    eos_id : int

    Returns
    -------
    torch.Tensor [B, T] bool
    """
    eos_id = check_int(eos_id, "eos_id", 0)
    r, _ = pad_sequences(responses, "responses")
    eos = (r == eos_id).to(torch.int64)
    return (eos.cumsum(1) - eos) == 0


class TinyTextLM(BytesMixin, nn.Module):
    """Embedding -> one GRU layer -> linear head over the vocabulary.

    Parameters
    ----------
    vocab_size : int >= 3
        Ids 0, 1, 2 are PAD, BOS, EOS.
    embed : int
        Embedding width.
    hidden : int
        GRU width. The default (embed 32, hidden 96, vocab 40) has about 43k parameters;
        ``n_params`` must stay <= 100k for the book's budget (not enforced).
    seed : int
        Seeds the initial weights (the global torch RNG is left untouched).
    value_head : bool
        Add a linear value head on the GRU state (:meth:`values`), for PPO with GAE and
        value-guided decoding; ``hidden + 1`` more parameters.

    Notes
    -----
    Parameters: ``V*e + 3*(e*h + h*h + 2*h) + h*V + V``.
    """

    def __init__(self, vocab_size: int, *, embed: int = 32, hidden: int = 96,
                 seed: int = 0, value_head: bool = False) -> None:
        super().__init__()
        _int(vocab_size, "vocab_size", 3)
        _int(embed, "embed", 1)
        _int(hidden, "hidden", 1)
        _int(seed, "seed", 0)
        if not isinstance(value_head, bool):
            raise TypeError(f"value_head must be a bool, got {type(value_head).__name__}")
        self.config = {"vocab_size": int(vocab_size), "embed": int(embed),
                       "hidden": int(hidden), "seed": int(seed),
                       "value_head": bool(value_head)}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.emb = nn.Embedding(vocab_size, embed)
            self.gru = nn.GRU(embed, hidden, batch_first=True)
            self.head = nn.Linear(hidden, vocab_size)
            self.value = nn.Linear(hidden, 1) if value_head else None

    @property
    def vocab_size(self) -> int:
        return self.config["vocab_size"]

    @property
    def n_params(self) -> int:
        """Number of parameters."""
        return sum(p.numel() for p in self.parameters())

    # ----------------------------------------------------------------------------------
    # forward passes

    def forward(self, ids: torch.Tensor, h0: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``[B, L, V]`` after each position of ``ids`` ``[B, L]``, and the GRU state
        ``[B, L, H]`` after each position."""
        out, _ = self.gru(self.emb(ids), None if h0 is None else h0.unsqueeze(0))
        return self.head(out), out

    def _check_ids(self, ids: torch.Tensor, name: str) -> None:
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.vocab_size):
            raise ValueError(f"{name} must hold token ids in [0, {self.vocab_size})")

    def _inputs(self, prompts: Any, responses: Any, response_mask_: Any | None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Validated, padded ``(prompt ids, prompt mask, response ids, response mask)``."""
        p, pm = pad_sequences(prompts, "prompts")
        r, rm = pad_sequences(responses, "responses")
        if len(p) != len(r):
            raise ValueError(f"prompts and responses must have the same batch size, got "
                             f"{len(p)} and {len(r)}")
        self._check_ids(p, "prompts")
        self._check_ids(r, "responses")
        if response_mask_ is not None:
            m = torch.as_tensor(np.asarray(response_mask_) if not isinstance(
                response_mask_, torch.Tensor) else response_mask_)
            if m.dtype != torch.bool:
                raise TypeError(f"response_mask must be bool, got {m.dtype}")
            if tuple(m.shape) != tuple(r.shape):
                raise ValueError(f"response_mask must have the shape of responses "
                                 f"{tuple(r.shape)}, got {tuple(m.shape)}")
            rm = m.cpu()
        return p, pm, r, rm

    def _heads_padded(self, p: torch.Tensor, pm: torch.Tensor, r: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``[B, T, V]`` predicting response tokens and the GRU states ``[B, T, H]``
        they are read from; layout ``BOS + prompt + response`` with each response placed
        right after its own prompt's last real token."""
        B, T = r.shape
        ids = torch.full((B, 1 + p.shape[1] + T), PAD, dtype=torch.int64)
        ids[:, 0] = BOS
        ids[:, 1 : 1 + p.shape[1]] = torch.where(pm, p, PAD)
        pos = 1 + pm.sum(1)[:, None] + torch.arange(T)[None, :]  # where y_t sits
        ids.scatter_(1, pos, r)
        logits, states = self(ids)
        before = (pos - 1).unsqueeze(-1)
        return (logits.gather(1, before.expand(-1, -1, logits.shape[-1])),
                states.gather(1, before.expand(-1, -1, states.shape[-1])))

    def _logits_padded(self, p: torch.Tensor, pm: torch.Tensor, r: torch.Tensor
                       ) -> torch.Tensor:
        return self._heads_padded(p, pm, r)[0]

    def _logprobs_padded(self, p: torch.Tensor, pm: torch.Tensor, r: torch.Tensor,
                         rm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lg = self._logits_padded(p, pm, r)
        lp = torch.log_softmax(lg, -1).gather(-1, r.unsqueeze(-1)).squeeze(-1)
        return lp.masked_fill(~rm, 0.0), rm

    def values(self, prompts: Any, responses: Any, response_mask: Any | None = None,
               ) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Value head: :math:`V(s_{b,t})` for the state before each response token.

        :math:`s_{b,t} = (x_b, y_{b,<t})`, read from the same GRU state as the logits that
        predict :math:`y_{b,t}` (a shared trunk, as in PPO for LLMs). Needs
        ``value_head=True``.

        Returns
        -------
        values : torch.Tensor [B, T] float32
            0 where the mask is False.
        mask : torch.Tensor [B, T] bool
        """
        if self.value is None:
            raise ValueError("this model has no value head: build it with value_head=True")
        p, pm, r, rm = self._inputs(prompts, responses, response_mask)
        _, states = self._heads_padded(p, pm, r)
        return self.value(states).squeeze(-1).masked_fill(~rm, 0.0), rm

    def logits(self, prompts: Any, responses: Any) -> torch.Tensor:
        """Logits ``[B, T, V]`` predicting each response token (inputs as in
        :meth:`logprobs`)."""
        p, pm, r, _ = self._inputs(prompts, responses, None)
        return self._logits_padded(p, pm, r)

    def logprobs(self, prompts: Any, responses: Any, response_mask: Any | None = None,
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Per-token log-probabilities of ``responses`` after ``prompts``.

        .. math:: \ell_{b,t} = m_{b,t}\,\log \pi_\theta(y_{b,t} \mid \mathrm{BOS}, x_b,
                  y_{b,<t})

        Gradients flow (call under ``torch.no_grad()`` for rollouts).

        Parameters
        ----------
        prompts : ragged sequences of int [B][P_b], or int array [B, P]
        responses : ragged sequences of int [B][T_b], or int array [B, T]
        response_mask : bool array [B, T], optional
            Which response tokens count. Default: the real tokens of ragged
            ``responses``; for an array, all of them (pass ``response_mask(responses)``
            to cut after EOS).

        Returns
        -------
        logp : torch.Tensor [B, T] float32
            0 where the mask is False.
        mask : torch.Tensor [B, T] bool
        """
        return self._logprobs_padded(*self._inputs(prompts, responses, response_mask))

    def sequence_logprob(self, prompts: Any, responses: Any,
                         response_mask: Any | None = None) -> torch.Tensor:
        """:math:`\\log \\pi(y \\mid x) = \\sum_t \\ell_{b,t}`, ``[B]`` float32."""
        lp, _ = self.logprobs(prompts, responses, response_mask)
        return lp.sum(1)

    @torch.no_grad()
    def start(self, prompts: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Incremental decoding, step 0: the state and next-token logits after ``BOS + prompt``.

        Returns ``(state [B, H] float32, logits [B, V] float32)``; feed the state and each
        chosen token to :meth:`advance`.
        """
        p, pm = pad_sequences(prompts, "prompts")
        self._check_ids(p, "prompts")
        B = len(p)
        ids = torch.cat([torch.full((B, 1), BOS, dtype=torch.int64),
                         torch.where(pm, p, PAD)], 1)
        logits, states = self(ids)
        last = pm.sum(1)  # index of the last prompt position (BOS at 0)
        return states[torch.arange(B), last], logits[torch.arange(B), last]

    @torch.no_grad()
    def advance(self, state: torch.Tensor, tok: torch.Tensor,
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Incremental decoding: append ``tok`` ([B] int64) to each row; returns the new
        ``(state [B, H], logits [B, V])``."""
        o, hn = self.gru(self.emb(tok[:, None]), state.unsqueeze(0))
        return hn.squeeze(0), self.head(o[:, 0])

    @torch.no_grad()
    def sample(self, prompts: Any, max_len: int, *, temperature: float = 1.0,
               top_k: int | None = None, seed: int = 0, eos_id: int = EOS,
               logits_processor: Any = None,
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        r"""Sample responses token by token until EOS or ``max_len``.

        The next token is drawn from :math:`\mathrm{softmax}(z / \tau)` restricted to the
        ``top_k`` largest logits; ``temperature=0`` is greedy decoding (argmax).

        Parameters
        ----------
        prompts : ragged sequences of int [B][P_b], or int array [B, P]
        max_len : int >= 1
        temperature : float >= 0
        top_k : int >= 1 or None
        seed : int
            Seeds this call's ``torch.Generator`` (the global RNG is not used).
        eos_id : int
        logits_processor : callable or None
            ``logits_processor(z, prev, t) -> z'`` with ``z`` the model's logits ``[B, V]``
            at step ``t`` and ``prev`` the tokens drawn at step ``t - 1`` (``[B]`` int64,
            PAD for ended rows; ``None`` at ``t = 0``). Applied before temperature and
            top-k, as Hugging Face's logits processors are; it may keep its own state (a
            value model advanced on ``prev``, :func:`creditlab.planning.value_augmented_sample`).
            ``logp`` stays the model's own log-probability.

        Returns
        -------
        responses : torch.Tensor [B, T] int64
            ``T <= max_len`` (stops early when every row has ended); PAD after EOS.
        logp : torch.Tensor [B, T] float32
            Log-probabilities of the sampled tokens under the model itself (temperature 1,
            no top-k), i.e. what :meth:`logprobs` returns for them; 0 where masked.
        mask : torch.Tensor [B, T] bool
            verl's response mask: True up to and including the first EOS.
        """
        max_len = _int(max_len, "max_len", 1)
        if not np.isfinite(temperature) or temperature < 0:
            raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
        if top_k is not None:
            top_k = _int(top_k, "top_k", 1)
        _int(seed, "seed", 0)
        if logits_processor is not None and not callable(logits_processor):
            raise TypeError("logits_processor must be callable or None, got "
                            f"{type(logits_processor).__name__}")
        gen = torch.Generator().manual_seed(int(seed))
        h, z = self.start(prompts)  # [B, H], [B, V]
        B = len(h)
        out = torch.full((B, max_len), PAD, dtype=torch.int64)
        lps = torch.zeros((B, max_len))
        done = torch.zeros(B, dtype=torch.bool)
        T = 0
        tok = None
        for t in range(max_len):
            logp_full = torch.log_softmax(z, -1)
            zp = z if logits_processor is None else logits_processor(z, tok, t)
            if temperature == 0:
                tok = zp.argmax(-1)
            else:
                zz = zp / temperature
                if top_k is not None and top_k < zz.shape[-1]:
                    kth = zz.topk(top_k, -1).values[:, -1:]
                    zz = zz.masked_fill(zz < kth, float("-inf"))
                tok = torch.multinomial(torch.softmax(zz, -1), 1, generator=gen).squeeze(1)
            tok = torch.where(done, PAD, tok)
            out[:, t] = tok
            lps[:, t] = torch.where(done, 0.0, logp_full.gather(1, tok[:, None]).squeeze(1))
            done = done | (tok == eos_id)
            T = t + 1
            if bool(done.all()):
                break
            h, z = self.advance(h, tok)
        out, lps = out[:, :T], lps[:, :T]
        mask = response_mask(out, eos_id)
        return out, lps.masked_fill(~mask, 0.0), mask

    @torch.no_grad()
    def greedy(self, prompts: Any, max_len: int, eos_id: int = EOS) -> list[list[int]]:
        """Greedy responses as ragged lists, cut after the first EOS (EOS dropped)."""
        r, _, m = self.sample(prompts, max_len, temperature=0.0, eos_id=eos_id)
        return [[int(v) for v, k in zip(row, mk) if k and v != eos_id]
                for row, mk in zip(r.tolist(), m.tolist())]

    # ----------------------------------------------------------------------------------
    # copies and serialisation

    def ema_copy(self) -> TinyTextLM:
        """A frozen deep copy (see :func:`ema_copy`)."""
        return ema_copy(self)

    def ema_update(self, source: nn.Module, tau: float) -> TinyTextLM:
        """``self <- tau * self + (1 - tau) * source`` in place (see :func:`ema_update`)."""
        ema_update(self, source, tau)
        return self


def _check_model(m: Any, name: str) -> None:
    if not isinstance(m, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module (a TinyTextLM), got "
                        f"{type(m).__name__}")


def ema_copy(model: nn.Module) -> nn.Module:
    """A deep copy with ``requires_grad=False``: a reference policy or an EMA teacher."""
    _check_model(model, "model")
    return copy.deepcopy(model).requires_grad_(False)


@torch.no_grad()
def ema_update(target: nn.Module, source: nn.Module, tau: float) -> nn.Module:
    r"""In-place exponential moving average of ``source`` into ``target``.

    .. math:: \phi \leftarrow \tau\,\phi + (1 - \tau)\,\theta

    (RLP's no-thought teacher uses :math:`\tau = 0.999`.) ``tau=1`` keeps the target,
    ``tau=0`` copies the source. Returns ``target``.
    """
    _check_model(target, "target")
    _check_model(source, "source")
    check_real(tau, "tau")
    if not np.isfinite(tau) or not 0.0 <= tau <= 1.0:
        raise ValueError(f"tau must be in [0, 1], got {tau!r}")
    tp, sp = list(target.parameters()), list(source.parameters())
    if len(tp) != len(sp) or any(a.shape != b.shape for a, b in zip(tp, sp)):
        raise ValueError("target and source must have the same architecture")
    for a, b in zip(tp, sp):
        a.mul_(tau).add_(b.detach(), alpha=1.0 - tau)
    return target


def kl_penalty(logp: Any, ref_logp: Any, kind: str = "k3") -> torch.Tensor:
    r"""Per-token KL estimates from the sampled tokens' log-probs (verl ``kl_penalty``).

    With :math:`d = \log\pi(y_t) - \log\pi_{ref}(y_t)`:

    - ``"k1"``: :math:`d` (verl "kl");
    - ``"k2"``: :math:`\tfrac12 d^2` (verl "mse");
    - ``"k3"``: :math:`e^{-d} + d - 1` (verl "low_var_kl", unbiased and >= 0; verl
      clamps it to [-10, 10], so do we);
    - ``"abs"``: :math:`|d|`.

    Parameters
    ----------
    logp, ref_logp : tensor [B, T]
        Masked positions should hold 0 in both (then every kind gives 0 there). Numbers
        (numpy or torch; integers are cast to float64); NaN / inf are not checked and
        propagate.
    kind : str

    Returns
    -------
    torch.Tensor [B, T]
    """
    if kind not in KL_KINDS[:4]:
        raise ValueError(f"kind must be one of {KL_KINDS[:4]} (use kl() for 'full'), "
                         f"got {kind!r}")
    from creditlab.prefs import _t

    a, b = _t(logp, "logp"), _t(ref_logp, "ref_logp")
    if a.shape != b.shape:
        raise ValueError(f"ref_logp must have the shape of logp {tuple(a.shape)}, got "
                         f"{tuple(b.shape)}")
    d = a - b
    if kind == "k1":
        return d
    if kind == "k2":
        return 0.5 * d * d
    if kind == "abs":
        return d.abs()
    return (torch.exp(-d) + d - 1).clamp(-10, 10)


def kl(policy: TinyTextLM, reference: TinyTextLM, prompts: Any, responses: Any, *,
       kind: str = "full", response_mask: Any | None = None) -> torch.Tensor:
    r"""Per-token KL from ``policy`` to ``reference`` along given responses, ``[B, T]``.

    ``kind="full"`` is the exact KL of the next-token distributions,

    .. math:: \mathrm{KL}_t = \sum_v \pi(v \mid h_t)\,[\log\pi(v \mid h_t) -
              \log\pi_{ref}(v \mid h_t)],

    cheap here because the vocabulary is small; the other kinds are the sampled-token
    estimates of :func:`kl_penalty`. Gradients flow through ``policy`` only. Masked
    positions are 0.

    Parameters
    ----------
    policy, reference : TinyTextLM
    prompts, responses, response_mask
        As in :meth:`TinyTextLM.logprobs`.
    kind : {"full", "k1", "k2", "k3", "abs"}

    Returns
    -------
    torch.Tensor [B, T] float32
    """
    _check_model(policy, "policy")
    _check_model(reference, "reference")
    if kind not in KL_KINDS:
        raise ValueError(f"kind must be one of {KL_KINDS}, got {kind!r}")
    if kind != "full":
        lp, m = policy.logprobs(prompts, responses, response_mask)
        with torch.no_grad():
            rl, _ = reference.logprobs(prompts, responses, response_mask)
        return kl_penalty(lp, rl, kind).masked_fill(~m, 0.0)
    p, pm, r, m = policy._inputs(prompts, responses, response_mask)
    lg = policy._logits_padded(p, pm, r)
    with torch.no_grad():
        rg = reference._logits_padded(p, pm, r)
    lp, rp = torch.log_softmax(lg, -1), torch.log_softmax(rg, -1)
    out = (lp.exp() * (lp - rp)).sum(-1)
    return out.masked_fill(~m, 0.0)
