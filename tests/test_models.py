"""Model side: EGRU maths, pruning, trace export, training loop (tiny sizes)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neurosim.models import cli as mcli
from neurosim.models.data import Corpus, batchify
from neurosim.models.egru import EGRU, heaviside
from neurosim.models.export import export_trace
from neurosim.models.lm import LanguageModel, ModelConfig, recurrent_weights
from neurosim.models.lstm import LSTM
from neurosim.models.pruning import Pruner, cubic_sparsity, measured_weight_sparsity
from neurosim.models.train import TrainConfig, load_checkpoint, train
from neurosim.trace import load_trace

torch.set_num_threads(1)


def _reference_egru(layer: EGRU, x: torch.Tensor):
    """Per-step, per-unit loop over the published EGRU equations."""
    W, R = layer.weight_ih.detach(), layer.weight_hh.detach()
    bi, bh, theta = layer.bias_ih.detach(), layer.bias_hh.detach(), layer.theta.detach()
    T, B, _ = x.shape
    H = layer.hidden_size
    ys = torch.zeros(T, B, H)
    es = torch.zeros(T, B, H)
    for b in range(B):
        y = torch.zeros(H)
        c = torch.zeros(H)
        for t in range(T):
            y_new, c_new = torch.zeros(H), torch.zeros(H)
            for j in range(H):
                u = torch.sigmoid(W[j] @ x[t, b] + bi[j] + R[j] @ y + bh[j])
                r = torch.sigmoid(W[H + j] @ x[t, b] + bi[H + j] + R[H + j] @ y + bh[H + j])
                z = torch.tanh(W[2 * H + j] @ x[t, b] + bi[2 * H + j] + r * (R[2 * H + j] @ y + bh[2 * H + j]))
                c_hat = u * c[j] + (1 - u) * z
                e = float(c_hat > theta[j])
                y_new[j] = c_hat * e
                c_new[j] = c_hat - theta[j] * e
                es[t, b, j] = e
            y, c = y_new, c_new
            ys[t, b] = y
    return ys, es


def test_egru_matches_per_step_reference():
    """The vectorised EGRU equals a per-unit loop over the published equations."""
    torch.manual_seed(0)
    layer = EGRU(5, 7, thr_mean=0.1, thr_std=0.05)
    with torch.no_grad():
        layer.weight_hh.mul_(3.0)
    x = torch.randn(9, 2, 5) * 2
    y, _, e = layer(x)
    y_ref, e_ref = _reference_egru(layer, x)
    assert torch.equal(e, e_ref)
    assert torch.allclose(y, y_ref, atol=1e-5)
    assert 0 < e.mean() < 1


def test_heaviside_pseudo_derivative():
    """Backward of the step is gamma * max(0, 1 - eps*|v|)."""
    v = torch.tensor([-2.0, -0.5, 0.0, 0.25, 1.5], requires_grad=True)
    heaviside(v, 0.7, 2.0).sum().backward()
    expected = 0.7 * torch.clamp(1 - 2.0 * v.detach().abs(), min=0)
    assert torch.allclose(v.grad, expected)


def test_theta_gets_gradient():
    """The thresholds are learnable: the loss has a gradient with respect to them."""
    torch.manual_seed(1)
    layer = EGRU(4, 6, thr_mean=0.05)
    y, _, _ = layer(torch.randn(5, 3, 4))
    y.sum().backward()
    assert layer.theta.grad is not None and layer.theta.grad.abs().sum() > 0


def test_lstm_matches_torch_lstm():
    """The LSTM baseline equals torch.nn.LSTM with the same weights."""
    torch.manual_seed(0)
    ours = LSTM(5, 6)
    ref = torch.nn.LSTM(5, 6)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(ref, f"{name}_l0").copy_(getattr(ours, name))
    x = torch.randn(7, 2, 5)
    out, (_, c), _ = ours(x)
    out_ref, (_, c_ref) = ref(x)
    assert torch.allclose(out, out_ref, atol=1e-6)
    assert torch.allclose(c, c_ref[0], atol=1e-6)


def test_cubic_schedule():
    """Zhu & Gupta schedule: 0 before start, the target from the end, increasing in between."""
    vals = [cubic_sparsity(s, 0.9, 10, 110) for s in range(130)]
    assert vals[0] == 0.0 and vals[10] == 0.0 and vals[110] == 0.9 and vals[129] == 0.9
    assert all(a <= b for a, b in itertools.pairwise(vals))


def _tiny_model(model="egru"):
    cfg = ModelConfig(
        model=model,
        vocab_size=13,
        emb_size=8,
        hidden_sizes=(12, 8),
        dropout_emb=0,
        dropout_layers=0,
        dropout_out=0,
        thr_mean=0.05,
    )
    return LanguageModel(cfg)


@pytest.mark.parametrize("sparsity", [0.5, 0.9, 0.37])
def test_pruning_exact_fraction_and_stays_zero(sparsity):
    """Every recurrent-layer matrix has exactly round(s*n) zeros, and they stay zero while training."""
    torch.manual_seed(0)
    model = _tiny_model()
    pruner = Pruner(model)
    pruner.prune_to(sparsity)
    before = {name: (p == 0).clone() for name, p in recurrent_weights(model)}
    for name, p in recurrent_weights(model):
        assert int((p == 0).sum()) == round(sparsity * p.numel()), name
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = torch.randint(0, 13, (6, 3))
    for _ in range(3):
        logits, _, _ = model(x)
        loss = torch.nn.functional.cross_entropy(logits.view(-1, 13), x.roll(-1, 0).reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        pruner.apply()
    for name, p in recurrent_weights(model):
        assert torch.equal(p == 0, before[name]), name
    assert abs(measured_weight_sparsity(model) - sparsity) < 0.01


def test_pruning_masks_only_shrink():
    """Raising the sparsity keeps every weight pruned earlier pruned."""
    torch.manual_seed(0)
    model = _tiny_model()
    pruner = Pruner(model)
    pruner.prune_to(0.3)
    old = {k: v.clone() for k, v in pruner.masks.items()}
    pruner.prune_to(0.6)
    for k, mask in old.items():
        assert not (pruner.masks[k] & ~mask).any()


def test_corpus_tokens(corpus_dir):
    """Tokens are line.split() + ['<eos>'] per line."""
    c = Corpus(corpus_dir)
    assert c.train.numel() == 120 * 7
    assert c.dictionary.idx2word[c.train[6]] == "<eos>"
    assert batchify(c.train, 4).shape == (210, 4)


def _train_cfg(corpus_dir, out, **kw):
    base = {
        "model": "egru",
        "dataset": "ptb",
        "data_dir": str(corpus_dir),
        "preset": "tiny",
        "out": str(out),
        "epochs": 3,
        "batch_size": 4,
        "eval_batch_size": 2,
        "bptt": 10,
        "lr": 1e-2,
        "warmup_steps": 1,
        "progress": False,
        "overrides": {"thr_mean": 0.05},
    }
    base.update(kw)
    return TrainConfig(**base)


def test_training_reduces_loss(corpus_dir, tmp_path):
    """A few epochs on a predictable corpus bring validation loss well below log(V)."""
    ckpt = train(_train_cfg(corpus_dir, tmp_path / "run", epochs=6, lr=3e-2), log=lambda *a: None)
    first, last = ckpt["history"][0], ckpt["history"][-1]
    assert last["val_loss"] < first["val_loss"]
    assert last["val_loss"] < math.log(13) - 0.5
    assert (tmp_path / "run" / "log.csv").read_text().startswith("epoch,step,train_loss")


def test_gradual_pruning_reaches_target_and_resume(corpus_dir, tmp_path):
    """Gradual pruning ends at the target sparsity; a finished run resumes as a no-op."""
    out = tmp_path / "run"
    ckpt = train(_train_cfg(corpus_dir, out, epochs=2, weight_sparsity=0.8, prune_every=2), log=lambda *a: None)
    assert abs(ckpt["history"][-1]["weight_sparsity"] - 0.8) < 0.01
    again = train(_train_cfg(corpus_dir, out, epochs=2, weight_sparsity=0.8, prune_every=2), log=lambda *a: None)
    assert again["step"] == ckpt["step"]


def test_oneshot_prune_finetune(corpus_dir, tmp_path):
    """--init-checkpoint prunes a dense checkpoint one-shot and fine-tunes with fixed masks."""
    train(_train_cfg(corpus_dir, tmp_path / "dense", epochs=1), log=lambda *a: None)
    ckpt = train(
        _train_cfg(
            corpus_dir,
            tmp_path / "ft",
            epochs=0.5,
            weight_sparsity=0.5,
            init_checkpoint=str(tmp_path / "dense" / "checkpoint.pt"),
        ),
        log=lambda *a: None,
    )
    assert abs(ckpt["history"][-1]["weight_sparsity"] - 0.5) < 0.01
    assert ckpt["base_epochs"] == 1.0


@pytest.mark.parametrize("model", ["egru", "lstm"])
def test_export_round_trip(corpus_dir, tmp_path, model):
    """Events, values and masks in the exported trace equal the model's."""
    train(
        _train_cfg(corpus_dir, tmp_path / "run", model=model, epochs=1, weight_sparsity=0.5, prune_every=1),
        log=lambda *a: None,
    )
    path = tmp_path / "t.npz"
    export_trace(tmp_path / "run" / "checkpoint.pt", out=path, tokens=40, values="yes")
    trace = load_trace(path)
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    net = LanguageModel(ModelConfig(**ckpt["model_config"]))
    net.load_state_dict(ckpt["model_state"])
    net.eval()
    corpus = Corpus(corpus_dir)
    assert np.array_equal(trace.tokens, corpus.test[:40].numpy())
    x = torch.as_tensor(trace.tokens, dtype=torch.long).view(-1, 1)
    with torch.no_grad():
        h = net.embedding(x)
        for l, layer in enumerate(net.layers):
            h, _, e = layer(h)
            ev = e[:, 0].numpy() > 0
            assert np.array_equal(trace.layers[l].events, ev)
            assert np.array_equal(trace.layers[l].values, h[:, 0].numpy()[ev].astype(np.float16))
            assert np.array_equal(trace.layers[l].w_in_mask, (layer.weight_ih != 0).numpy().T)
            assert np.array_equal(trace.layers[l].w_rec_mask, (layer.weight_hh != 0).numpy().T)
    assert trace.meta["gates"] == (3 if model == "egru" else 4)
    assert abs(trace.meta["weight_sparsity"] - 0.5) < 0.01
    assert trace.meta["perplexity"] > 1


def test_cli_bad_flag_is_one_line(capsys):
    """A bad flag value fails with one line naming the flag, the value and what is allowed."""
    with pytest.raises(SystemExit):
        mcli.main(["train", "--data-dir", "x", "--weight-sparsity", "1.5"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--weight-sparsity" in err and "1.5" in err and "[0, 1)" in err


def test_cli_train_and_export(corpus_dir, tmp_path):
    """python -m neurosim.models.cli train/export run end to end and record their commands."""
    out = tmp_path / "run"
    assert (
        mcli.main(
            [
                "train",
                "--data-dir",
                str(corpus_dir),
                "--preset",
                "tiny",
                "--epochs",
                "1",
                "--batch-size",
                "4",
                "--bptt",
                "10",
                "--out",
                str(out),
                "--no-progress",
                "--weight-sparsity",
                "0.5",
            ]
        )
        == 0
    )
    trace_path = tmp_path / "t.npz"
    assert (
        mcli.main(["export", "--checkpoint", str(out / "checkpoint.pt"), "--tokens", "30", "--out", str(trace_path)])
        == 0
    )
    meta = load_trace(trace_path).meta
    assert meta["source"].startswith("neurosim trace export")
    assert meta["train_command"].startswith("neurosim train")
