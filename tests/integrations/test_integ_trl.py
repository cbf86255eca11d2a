"""The README's TRL recipe, run on a tiny model against TRL's own advantage code.

Needs trl (``make test-integrations``); skipped without it. The recipe's code is taken
from README.md (the block after ``<!-- trl-recipe -->``), so the documented code is the
tested code. A one-layer Llama with random weights and a word-level tokenizer built in
memory (nothing is downloaded) trains for two steps on CPU; each step's advantages from
TRL's own ``_generate_and_score_completions`` are captured before the recipe replaces
them, and compared.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
trl = pytest.importorskip("trl")

from datasets import Dataset  # noqa: E402  (TRL dependencies)
from tokenizers import Tokenizer, models, pre_tokenizers  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast  # noqa: E402
from trl import GRPOConfig, GRPOTrainer, RLOOConfig, RLOOTrainer  # noqa: E402

README = Path(__file__).resolve().parents[2] / "README.md"


def recipe() -> dict:
    text = README.read_text()
    m = re.search(r"<!-- trl-recipe -->\n```python\n(.*?)```", text, re.S)
    assert m, "README.md has no TRL recipe block"
    ns: dict = {}
    exec(compile(m.group(1), "README.md:trl-recipe", "exec"), ns)
    return ns


CreditlabAdvantages = recipe()["CreditlabAdvantages"]


def tiny():
    vocab = {w: i for i, w in enumerate(["<pad>", "<eos>", "<bos>"] + [f"w{i}" for i in range(29)])}
    tk = Tokenizer(models.WordLevel(vocab, unk_token="w0"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", eos_token="<eos>",
                                  bos_token="<bos>")
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, pad_token_id=0, eos_token_id=1,
        bos_token_id=2))
    ds = Dataset.from_dict({"prompt": [f"w{i} w{i + 1}" for i in range(16)]})
    return model, tok, ds


def length_reward(completions, **kw):
    return [float(len(c) % 7) for c in completions]


def w3_reward(completions, **kw):
    return [0.5 * c.count("w3") - 0.25 * c.count("w5") for c in completions]


def capture(base):
    """base trainer + the recipe, recording TRL's advantages and the recipe's."""

    class TRLs(base):
        def _generate_and_score_completions(self, inputs):
            out = super()._generate_and_score_completions(inputs)
            self.log_trl.append(out["advantages"].clone())
            return out

    class Recipe(CreditlabAdvantages, TRLs):
        def _generate_and_score_completions(self, inputs):
            out = super()._generate_and_score_completions(inputs)
            self.log_ours.append((out["advantages"].clone(), self._creditlab_rewards.clone(),
                                  out))
            return out

    return Recipe


def run(base, config_cls, credit, steps=2, **cfg):
    model, tok, ds = tiny()
    cls = capture(base)
    cls.credit = credit
    with tempfile.TemporaryDirectory() as d:
        args = config_cls(output_dir=d, per_device_train_batch_size=8, num_generations=4,
                          max_completion_length=6, max_steps=steps, report_to="none",
                          use_cpu=True, save_strategy="no", logging_steps=1, seed=0, **cfg)
        t = cls(model=model, reward_funcs=[length_reward, w3_reward], args=args,
                train_dataset=ds, processing_class=tok)
        t.log_trl, t.log_ours = [], []
        t.train()
    assert len(t.log_trl) == steps and len(t.log_ours) == steps
    return t


@pytest.mark.parametrize("credit,cfg", [("grpo", {}), ("dr_grpo", {"scale_rewards": "none"})])
def test_grpo_recipe_equals_trl(credit, cfg):
    t = run(GRPOTrainer, GRPOConfig, credit, **cfg)
    for theirs, (ours, rewards, _) in zip(t.log_trl, t.log_ours):
        assert ours.shape == theirs.shape
        torch.testing.assert_close(ours, theirs)
        assert rewards.shape == (8, 2) and float(theirs.abs().sum()) > 0  # a real signal


def test_rloo_recipe_equals_trl():
    t = run(RLOOTrainer, RLOOConfig, "rloo", beta=0.0, normalize_advantages=False)
    for theirs, (ours, _, _) in zip(t.log_trl, t.log_ours):
        torch.testing.assert_close(ours, theirs)
        assert float(theirs.abs().sum()) > 0


def prm(ids, mask):
    """A made-up process reward: a score on every third token id, 0 elsewhere."""
    score = ((ids % 5).double() - 2.0) / 2.0
    return torch.where((ids % 3 == 0) & (mask != 0), score, 0.0)


def test_min_form_recipe_per_token_advantages():
    base = capture(GRPOTrainer)

    class WithPRM(base):
        credit = "min_form"

        def process_rewards(self, out):
            return prm(out["completion_ids"], out["completion_mask"])

    model, tok, ds = tiny()
    with tempfile.TemporaryDirectory() as d:
        args = GRPOConfig(output_dir=d, per_device_train_batch_size=8, num_generations=4,
                          max_completion_length=6, max_steps=2, report_to="none",
                          use_cpu=True, save_strategy="no", seed=0)
        t = WithPRM(model=model, reward_funcs=[length_reward, w3_reward], args=args,
                    train_dataset=ds, processing_class=tok)
        t.log_trl, t.log_ours = [], []
        out = t.train()
    assert np.isfinite(out.training_loss)  # TRL's loss took the [B, T] advantages
    scored = 0
    for ours, rewards, o in t.log_ours:
        ids, mask = o["completion_ids"], o["completion_mask"]
        B, T = ids.shape
        assert ours.shape == (B, T)
        p = prm(ids, mask).tolist()
        r = (rewards * t.reward_weights).nansum(1).double().tolist()
        G = np.zeros((B, T))
        for i in range(B):  # the formula as a plain loop
            cur = None
            for s in reversed(range(T)):
                if mask[i, s] and p[i][s] != 0:
                    cur = p[i][s] if cur is None else min(cur, p[i][s])
                G[i, s] = ((cur or 0.0) + r[i]) if mask[i, s] else 0.0
        want = np.zeros((B, T))
        for i in range(B):
            others = [j for j in range(B) if j // 4 == i // 4 and j != i]
            b = np.mean([G[j, 0] for j in others])
            want[i] = np.where(mask[i].bool().numpy(), G[i] - b, 0.0)
        np.testing.assert_allclose(ours.double().numpy(), want, rtol=1e-5, atol=1e-5)
        scored += sum(x != 0 for row in p for x in row)
    assert scored > 4  # the process rewards did reach the minimum
