"""Chapter 24: PRDP's reward-difference regression, Diffusion-DPO, leave-one-out splits of
a set reward, and the DDPO / PRDP / set-DPO trainers on Toy2DDiffusion."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import creditlab as cl
from creditlab.algos.diffusion_finetune import (
    denoising_errors,
    finetune_ddpo,
    finetune_prdp,
    finetune_set_dpo,
)
from creditlab.exercises import check as check_mod
from creditlab.exercises.checks import ch24
from creditlab.metrics import frechet_distance
from creditlab.models import Toy2DDiffusion
from creditlab.prefs import diffusion_dpo_loss, leave_one_out_split, rdp_loss

torch.set_num_threads(1)


def _rdp_ref(la, lb, ra, rb, beta, oa=None, ob=None, eps=None):
    out = []
    for i in range(len(ra)):
        t = (ra[i] - rb[i]) / beta
        loss = (la[i].mean() - lb[i].mean() - t) ** 2
        if eps is not None:
            ca = np.clip(la[i], oa[i] - eps, oa[i] + eps)
            cb = np.clip(lb[i], ob[i] - eps, ob[i] + eps)
            loss = max(loss, (ca.mean() - cb.mean() - t) ** 2)
        out.append(loss)
    return np.array(out)


@settings(max_examples=40, deadline=None)
@given(N=st.integers(1, 5), T=st.integers(1, 8), beta=st.floats(0.05, 5.0),
       eps=st.one_of(st.none(), st.floats(1e-3, 1.0)), seed=st.integers(0, 10_000))
def test_rdp_loss_matches_reference(N, T, beta, eps, seed):
    rng = np.random.default_rng(seed)
    la, lb, oa, ob = rng.normal(0, 0.5, (4, N, T))
    ra, rb = rng.normal(size=(2, N))
    kw = {} if eps is None else {"old_logratio_a": oa, "old_logratio_b": ob, "clip": eps}
    got = rdp_loss(la, lb, ra, rb, beta=beta, reduction="none", **kw)
    np.testing.assert_allclose(got, _rdp_ref(la, lb, ra, rb, beta, oa, ob, eps), rtol=1e-10)
    # symmetric in a <-> b, and the proximal loss is never below the plain one
    np.testing.assert_allclose(
        rdp_loss(lb, la, rb, ra, beta=beta, reduction="none",
                 **({} if eps is None else {"old_logratio_a": ob, "old_logratio_b": oa,
                                            "clip": eps})), got, rtol=1e-10)
    assert np.all(got >= rdp_loss(la, lb, ra, rb, beta=beta, reduction="none") - 1e-12)


def test_rdp_loss_zero_at_the_optimum_and_gradient():
    # log-ratio differences equal to the reward differences over beta: zero loss
    ra, rb, beta = np.array([1.0, -0.5]), np.array([0.0, 0.5]), 0.5
    la = np.tile(((ra - rb) / beta)[:, None], (1, 3))
    assert rdp_loss(la, np.zeros((2, 3)), ra, rb, beta=beta) == pytest.approx(0.0)
    x = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    loss = rdp_loss(x, torch.zeros(2, 3, dtype=torch.float64), torch.tensor(ra),
                    torch.tensor(rb), beta=beta)
    loss.backward()
    # the gradient pushes pair a's log-ratio up where its reward is higher
    assert x.grad[0].sum() < 0 and x.grad[1].sum() > 0


def test_rdp_loss_clip_freezes_gradient_outside_the_window():
    la = torch.full((1, 4), 1.0, dtype=torch.float64, requires_grad=True)
    z = torch.zeros(1, 4, dtype=torch.float64)
    loss = rdp_loss(la, z, torch.tensor([1.0]), torch.tensor([0.0]), beta=1.0,
                    old_logratio_a=z, old_logratio_b=z, clip=0.1)
    assert loss.item() == pytest.approx(0.81)
    loss.backward()
    assert torch.all(la.grad == 0)  # the clipped (pessimistic) branch has no gradient


def test_rdp_loss_bad_input():
    z = np.zeros((2, 3))
    with pytest.raises(ValueError, match="beta"):
        rdp_loss(z, z, [0, 0], [0, 0], beta=0.0)
    with pytest.raises(ValueError, match="old_logratio"):
        rdp_loss(z, z, [0, 0], [0, 0], beta=1.0, clip=0.1)
    with pytest.raises(ValueError, match="clip"):
        rdp_loss(z, z, [0, 0], [0, 0], beta=1.0, old_logratio_a=z, old_logratio_b=z, clip=-1)
    with pytest.raises(ValueError, match="r_a"):
        rdp_loss(z, z, [0, 0, 0], [0, 0], beta=1.0)


@settings(max_examples=30, deadline=None)
@given(N=st.integers(1, 6), beta=st.floats(0.1, 10.0), seed=st.integers(0, 10_000))
def test_diffusion_dpo_loss_matches_reference(N, beta, seed):
    ew, rw, el, rl = np.random.default_rng(seed).uniform(0, 2, (4, N))
    h = (ew - rw) - (el - rl)
    np.testing.assert_allclose(diffusion_dpo_loss(ew, rw, el, rl, beta=beta, reduction="none"),
                               np.logaddexp(0, beta * h), rtol=1e-10)


def test_diffusion_dpo_loss_gradient_direction():
    ew = torch.tensor([1.0], requires_grad=True)
    el = torch.tensor([1.0], requires_grad=True)
    one = torch.tensor([1.0])
    loss = diffusion_dpo_loss(ew, one, el, one, beta=2.0)
    assert loss.item() == pytest.approx(np.log(2))
    loss.backward()
    assert ew.grad.item() > 0 > el.grad.item()  # lower the winner's error, raise the loser's


@settings(max_examples=25, deadline=None)
@given(n=st.integers(4, 14), frac=st.floats(0.05, 0.5), seed=st.integers(0, 10_000))
def test_leave_one_out_split_matches_reference(n, frac, seed):
    rng = np.random.default_rng(seed)
    X, E = rng.normal(size=(n, 2)), rng.normal(1, 0.5, size=(10, 2))
    X0 = X.copy()

    def R(Z):
        return -frechet_distance(Z, E)

    pos, neg, delta = leave_one_out_split(X, R, frac=frac)
    ref = np.array([R(X) - R(np.delete(X, i, 0)) for i in range(n)])
    np.testing.assert_allclose(delta, ref, rtol=1e-10, atol=1e-12)
    k = max(1, min(round(frac * n), n // 2))
    assert len(pos) == len(neg) == k and not set(pos) & set(neg)
    assert delta[pos].min() >= delta[neg].max()
    np.testing.assert_array_equal(X, X0)


def test_leave_one_out_split_outlier_is_negative_and_bad_input():
    E = np.random.default_rng(0).normal(size=(30, 2))
    X = np.vstack([E[:7], [[20.0, 20.0]]])
    pos, neg, _ = leave_one_out_split(X, lambda Z: -frechet_distance(Z, E), frac=0.25)
    assert neg[0] == 7 and 7 not in pos
    with pytest.raises(ValueError, match="frac"):
        leave_one_out_split(X, lambda Z: 0.0, frac=0.7)
    with pytest.raises(TypeError, match="set_reward"):
        leave_one_out_split(X, 3)
    with pytest.raises(ValueError, match="samples"):
        leave_one_out_split(X[:3], lambda Z: 0.0)


def test_denoising_errors_match_the_training_loss():
    m = Toy2DDiffusion(3, steps=5, hidden=8, seed=1)
    rng = np.random.default_rng(0)
    x0 = torch.tensor(rng.normal(size=(6, 2)), dtype=torch.float32)
    eps = torch.tensor(rng.normal(size=(6, 2)), dtype=torch.float32)
    t = torch.tensor([1, 2, 3, 4, 5, 5])
    c = torch.tensor([0, 1, 2, 0, 1, 2])
    e = denoising_errors(m, x0, c, t, eps)
    ab = m.alpha_bar[t][:, None]
    v = ab.sqrt() * eps - (1 - ab).sqrt() * x0
    ref = ((m(ab.sqrt() * x0 + (1 - ab).sqrt() * eps, t, c) - v) ** 2).sum(-1)
    torch.testing.assert_close(e, ref)
    assert e.requires_grad
    with pytest.raises(ValueError, match="t"):
        denoising_errors(m, x0, c, torch.zeros(6, dtype=torch.int64), eps)
    with pytest.raises(ValueError, match="eps"):
        denoising_errors(m, x0, c, t, eps[:3])


def _reward(x, c):
    return -np.abs(np.linalg.norm(x, axis=1) - 3.0)


def test_first_step_losses_are_the_closed_forms():
    # at theta = theta_old = ref the first step's loss has a closed form
    m = Toy2DDiffusion(2, steps=4, hidden=8, seed=0)
    # DDPO: every ratio is 1, so the surrogate is -mean(A) = 0 for batch-normalised A
    h = finetune_ddpo(m.copy().requires_grad_(True), _reward, [0, 1], epochs=1, batch=4,
                      inner=1, normalize="global", seed=3)
    assert abs(h["loss"][0]) < 1e-6
    # PRDP: every log-ratio is 0, so the loss is the mean over pairs of (dr / beta)^2
    gen = torch.Generator().manual_seed(3)
    c = torch.tensor([0, 1]).repeat_interleave(4)
    r = _reward(m.sample(8, c, seed=gen).samples.numpy(), None).reshape(2, 4)
    iu, ju = np.triu_indices(4, 1)
    want = np.mean(((r[:, iu] - r[:, ju]) / 0.5) ** 2)
    h = finetune_prdp(m.copy().requires_grad_(True), m.copy(), _reward, [0, 1], epochs=1,
                      batch=4, inner=1, beta=0.5, clip=0.1, seed=3)
    assert h["loss"][0] == pytest.approx(want, rel=1e-4)
    # set DPO: model == ref gives log 2
    m1 = Toy2DDiffusion(1, steps=4, hidden=8, seed=0)
    h = finetune_set_dpo(m1.copy().requires_grad_(True), m1.copy(),
                         lambda X: (np.array([0, 1]), np.array([2, 3])), n=6, epochs=1,
                         inner=1, seed=0)
    assert h["loss"][0] == pytest.approx(np.log(2), rel=1e-5)


def test_prdp_raises_the_reward():
    x, y = cl.models.gaussian_ring(2000, n_classes=4, n_modes=4, seed=0)
    ref = Toy2DDiffusion(4, steps=6, hidden=16, seed=0)
    ref.fit(x, y, steps=300, batch_size=128, seed=0)
    ref = ref.copy()
    h = finetune_prdp(ref.copy().requires_grad_(True), ref, _reward, [0, 1], epochs=12,
                      batch=6, inner=4, lr=3e-3, beta=0.1, clip=0.1, seed=0)
    assert h["reward"][-3:].mean() > h["reward"][0] + 0.2
    assert int(h["diverged"]) == -1


def test_trainers_bad_input():
    m = Toy2DDiffusion(2, steps=3, hidden=4)
    with pytest.raises(ValueError, match="conds"):
        finetune_ddpo(m, _reward, [5])
    with pytest.raises(ValueError, match="normalize"):
        finetune_ddpo(m, _reward, [0], normalize="prompt")
    with pytest.raises(ValueError, match="ref"):
        finetune_prdp(m, Toy2DDiffusion(3, steps=3, hidden=4), _reward, [0])
    with pytest.raises(TypeError, match="split_fn"):
        finetune_set_dpo(m, m.copy(), 3)
    with pytest.raises(ValueError, match="reward_fn"):
        finetune_ddpo(m.copy().requires_grad_(True), lambda x, c: np.zeros(2), [0], batch=3,
                      epochs=1)


def test_stored_answers_and_wrong_answers():
    fresh = ch24.make_cases()
    stored = check_mod._cases("ch24")
    assert set(fresh) == set(stored)
    for k in fresh:
        np.testing.assert_allclose(np.asarray(fresh[k], float), np.asarray(stored[k], float))
    from creditlab.solutions import ch24 as sol

    assert cl.check("ch24.rdp_pair_loss", sol.rdp_pair_loss)
    assert cl.check("ch24.loo_contributions", sol.loo_contributions)
    assert cl.check("ch24.diffusion_dpo", sol.diffusion_dpo)
    with pytest.raises(AssertionError):  # no clip
        cl.check("ch24.rdp_pair_loss", lambda la, lb, ra, rb, beta, oa, ob, eps: float(
            (np.mean(la) - np.mean(lb) - (ra - rb) / beta) ** 2))
    with pytest.raises(AssertionError):  # sum over steps instead of the mean
        cl.check("ch24.rdp_pair_loss", lambda la, lb, ra, rb, beta, oa, ob, eps: float(max(
            (np.sum(la) - np.sum(lb) - (ra - rb) / beta) ** 2,
            (np.sum(np.clip(la, oa - eps, oa + eps)) - np.sum(np.clip(lb, ob - eps, ob + eps))
             - (ra - rb) / beta) ** 2)))
    with pytest.raises(AssertionError):  # the sign flipped
        cl.check("ch24.loo_contributions", lambda X, E: -sol.loo_contributions(X, E))
    with pytest.raises(AssertionError):  # the sign of the margin flipped
        cl.check("ch24.diffusion_dpo", lambda ew, rw, el, rl, beta: float(
            np.logaddexp(0, -beta * ((ew - rw) - (el - rl)))))
