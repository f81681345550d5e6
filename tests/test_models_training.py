"""Fused recurrent kernels against the autograd reference, NeuroPrune, the plateau schedule, small checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neurosim.models.egru import EGRU, check_impl
from neurosim.models.lm import LanguageModel, ModelConfig, recurrent_weights
from neurosim.models.lstm import LSTM
from neurosim.models.pruning import (
    NeuroPrunePruner,
    Pruner,
    greedy_dominating_set,
    make_pruner,
    preferential_attachment_penalty,
)
from neurosim.models.train import TrainConfig, load_checkpoint, model_from_checkpoint, small_checkpoint, train

torch.set_num_threads(1)


def _run(layer, x, state, impl):
    layer.impl = impl
    layer.zero_grad()
    x = x.detach().clone().requires_grad_(True)
    state = tuple(s.detach().clone().requires_grad_(True) for s in state)
    y, (y_t, c_t), e = layer(x, state)
    g = torch.Generator().manual_seed(3)
    loss = (y * torch.randn(y.shape, generator=g, dtype=y.dtype)).sum() + 0.3 * e.sum() + (c_t**2).sum() + y_t.sum()
    loss.backward()
    grads = [x.grad, state[0].grad, state[1].grad] + [p.grad for p in layer.parameters()]
    return (y.detach(), e.detach(), c_t.detach()), grads


@pytest.mark.parametrize("cls", [EGRU, LSTM])
@pytest.mark.parametrize("seed", [0, 1])
def test_fused_equals_reference(cls, seed):
    """Fused and reference layers give identical outputs and events and the same gradients (float64)."""
    torch.manual_seed(seed)
    layer = cls(5, 7).double()
    if cls is EGRU:
        with torch.no_grad():
            layer.theta.uniform_(0.0, 0.2)
            layer.weight_hh.mul_(3.0)
    x = torch.randn(9, 3, 5, dtype=torch.float64) * 2
    state = tuple(torch.rand(3, 7, dtype=torch.float64) * 0.2 for _ in range(2))
    out_ref, g_ref = _run(layer, x, state, "reference")
    out_fus, g_fus = _run(layer, x, state, "fused")
    for a, b in zip(out_ref, out_fus):
        assert torch.equal(a, b)
    for a, b in zip(g_ref, g_fus):
        assert a is not None and b is not None
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)
    if cls is EGRU:
        assert 0 < float(out_ref[1].mean()) < 1  # events both on and off: every branch is exercised


@pytest.mark.parametrize("model", ["egru", "lstm"])
def test_fused_language_model_gradients(model):
    """A tiny language model in float32 has the same loss and gradients with either implementation."""
    torch.manual_seed(0)
    cfg = ModelConfig(model=model, vocab_size=11, emb_size=6, hidden_sizes=(8, 6), thr_mean=0.05)
    net = LanguageModel(cfg)
    x = torch.randint(0, 11, (7, 2))
    res = {}
    for impl in ("reference", "fused"):
        net.set_impl(impl).eval()
        net.zero_grad()
        logits, _, events = net(x)
        loss = torch.nn.functional.cross_entropy(logits.view(-1, 11), x.roll(-1, 0).reshape(-1))
        loss = loss + torch.stack([e.mean() for e in events]).mean()
        loss.backward()
        res[impl] = (loss.detach(), [p.grad.clone() for p in net.parameters()])
    assert torch.equal(res["reference"][0], res["fused"][0])
    for a, b in zip(res["reference"][1], res["fused"][1]):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)


def test_impl_is_checked():
    """An unknown implementation name fails with the allowed choices."""
    with pytest.raises(ValueError, match="allowed"):
        check_impl("cuda")


def test_greedy_dominating_set():
    """Every node is kept or adjacent to a kept node; a star keeps only its hub."""
    star = torch.zeros(5, 5, dtype=torch.bool)
    star[0, 1:] = star[1:, 0] = True
    assert greedy_dominating_set(star).tolist() == [True, False, False, False, False]
    rng = np.random.default_rng(0)
    a = torch.from_numpy(rng.random((12, 12)) < 0.2)
    a = a | a.t()
    keep = greedy_dominating_set(a)
    covered = keep | (a & keep.unsqueeze(0)).any(1)
    assert covered.all()
    assert greedy_dominating_set(torch.zeros(4, 4, dtype=torch.bool)).all()


def test_preferential_attachment_penalises_weak_units_more():
    """The gradient of the penalty is larger on synapses of weakly connected presynaptic units."""
    w = torch.tensor([[1.0, 0.1], [1.0, 0.1]], requires_grad=True)
    preferential_attachment_penalty([w]).backward()
    assert w.grad[0, 1] > w.grad[0, 0] > 0


def _tiny(model="egru"):
    cfg = ModelConfig(model=model, vocab_size=13, emb_size=8, hidden_sizes=(12, 8), thr_mean=0.05)
    return LanguageModel(cfg)


@pytest.mark.parametrize("sparsity", [0.5, 0.9])
def test_neuroprune_exact_sparsity_and_units(sparsity):
    """NeuroPrune reaches exactly round(s*n) zeros per matrix; redundant units lose all outgoing synapses."""
    torch.manual_seed(0)
    model = _tiny()
    with torch.no_grad():  # make units 1 and 2 of layer 0 send the same synapses as unit 0
        for p in (model.layers[0].weight_hh, model.layers[1].weight_ih):
            p[:, 1] = p[:, 0]
            p[:, 2] = 2 * p[:, 0]
    pruner = make_pruner(model, "neuroprune", reg=1e-3, redundancy=0.99)
    assert isinstance(pruner, NeuroPrunePruner)
    pruner.prune_to(sparsity)
    for name, p in recurrent_weights(model):
        assert int((p == 0).sum()) == round(sparsity * p.numel()), name
    assert pruner.removed[0][1:3].all() and not pruner.removed[0][0]
    assert pruner.units_removed()[0] >= 2
    assert pruner.regularizer() > 0
    state = pruner.state_dict()
    again = make_pruner(_tiny(), "neuroprune")
    again.load_state_dict(state)
    assert all(torch.equal(again.removed[l], pruner.removed[l]) for l in range(2))


def test_make_pruner_rejects_unknown_method():
    """--pruning names one of the known methods."""
    with pytest.raises(ValueError, match="magnitude"):
        make_pruner(_tiny(), "random")


def _cfg(corpus_dir, out, **kw):
    base = {
        "model": "egru", "dataset": "ptb", "data_dir": str(corpus_dir), "preset": "tiny", "out": str(out), "epochs": 3,
        "batch_size": 4, "eval_batch_size": 2, "bptt": 10, "lr": 1e-2, "warmup_steps": 0, "progress": False,
        "overrides": {"thr_mean": 0.05},
    }
    base.update(kw)
    return TrainConfig(**base)


def test_plateau_schedule_cuts_and_converges(corpus_dir, tmp_path):
    """With an impossible improvement threshold every validation cuts the rate, and the run stops after max_decays."""
    ckpt = train(
        _cfg(corpus_dir, tmp_path / "run", epochs=20, schedule="plateau", eval_every=0.5, plateau_tol=100.0,
             max_decays=2, lr_decay=0.5),
        log=lambda *a: None,
    )
    lrs = [row["lr"] for row in ckpt["history"]]
    assert ckpt["converged"] and len(lrs) == 4  # first validation sets the best, two cuts, then stop
    assert lrs[1] == pytest.approx(1e-2) and lrs[2] == pytest.approx(5e-3) and lrs[3] == pytest.approx(2.5e-3)
    assert (tmp_path / "run" / "best.pt").is_file()


def test_thresholds_stay_in_range_with_the_clamp(corpus_dir, tmp_path):
    """A negative threshold makes an always-on unit whose state grows at every step; with thr_clamp every
    threshold ends in [0, 1] after training, without it some are pushed below 0 here (a large learning rate)."""
    from neurosim.models.egru import egru_step
    from neurosim.models.train import clamp_thresholds

    # the mechanism: theta < 0, a unit that fires at every step adds |theta| to its state each time
    H = 1
    c = torch.zeros(1, H)
    y = torch.zeros(1, H)
    w, b = torch.zeros(3 * H, H), torch.zeros(3 * H)
    gx = torch.tensor([[10.0, 0.0, 0.0]])  # update gate ~1: the state carries over
    for _ in range(50):
        y, c, e, _ = egru_step(gx, y, c, w, b, torch.tensor([-0.5]), 0.7, 1.0)
    assert e.item() == 1.0 and c.item() > 20.0  # unbounded growth
    kw = {"epochs": 1, "lr": 0.2, "overrides": {"thr_mean": 0.02}}
    free = train(_cfg(corpus_dir, tmp_path / "free", thr_clamp=False, **kw), log=lambda *a: None)
    held = train(_cfg(corpus_dir, tmp_path / "held", thr_clamp=True, **kw), log=lambda *a: None)
    thetas = lambda ck: torch.cat([v for k, v in ck["model_state"].items() if k.endswith("theta")])
    assert (thetas(free) < 0).any()
    assert (thetas(held) >= 0).all() and (thetas(held) <= 1).all()
    model, _ = model_from_checkpoint(free)
    clamp_thresholds(model)
    assert all(float(layer.theta.min()) >= 0 for layer in model.layers)


def test_threshold_learning_rate_scale(corpus_dir, tmp_path):
    """thr_lr_scale 0 keeps every threshold at its initial draw while the other weights train; 0.5 gives the
    thresholds' group half the schedule's rate at every step; resuming with another scale is refused; a
    negative scale is a one-line error naming the flag."""
    from neurosim.models.train import _make_optimizer, set_lr

    kw = {"epochs": 1, "lr": 0.05, "schedule": "plateau", "seed": 3}
    init = train(_cfg(corpus_dir, tmp_path / "init", epochs=0.01, lr=0.0, **{k: v for k, v in kw.items()
                                                                              if k not in ("epochs", "lr")}),
                 log=lambda *a: None)
    frozen = train(_cfg(corpus_dir, tmp_path / "frozen", thr_lr_scale=0.0, **kw), log=lambda *a: None)
    free = train(_cfg(corpus_dir, tmp_path / "free", **kw), log=lambda *a: None)
    for name, start in init["model_state"].items():
        if name.endswith("theta"):
            assert torch.equal(frozen["model_state"][name], start)
            assert not torch.equal(free["model_state"][name], start)
    moved = [n for n, v in init["model_state"].items() if n.endswith("weight_hh")]
    assert moved and all(not torch.equal(frozen["model_state"][n], init["model_state"][n]) for n in moved)

    model, _ = model_from_checkpoint(free)
    optimizer = _make_optimizer(_cfg(corpus_dir, tmp_path / "x", thr_lr_scale=0.5), model)
    set_lr(optimizer, 0.2)
    lrs = sorted(g["lr"] for g in optimizer.param_groups)
    assert lrs == [0.1, 0.2] and len(optimizer.param_groups[1]["params"]) == len(model.layers)
    assert optimizer.param_groups[1]["weight_decay"] == 0.0

    with pytest.raises(ValueError, match="thr-lr-scale.*started with 0.0"):
        train(_cfg(corpus_dir, tmp_path / "frozen", thr_lr_scale=1.0, epochs=2, lr=0.05, schedule="plateau"),
              log=lambda *a: None)
    with pytest.raises(ValueError, match="--thr-lr-scale: is -1.0"):
        train(_cfg(corpus_dir, tmp_path / "bad", thr_lr_scale=-1.0), log=lambda *a: None)


def test_pause_and_resume_equal_one_run(corpus_dir, tmp_path):
    """A run paused with until_epoch and resumed ends with the same weights as an uninterrupted run."""
    kw = {"epochs": 2, "optimizer": "sgd", "lr": 0.5, "schedule": "plateau", "weight_sparsity": 0.5, "prune_every": 2,
              "prune_start_epoch": 0.2, "prune_end_epoch": 1.0}
    a = train(_cfg(corpus_dir, tmp_path / "a", **kw), log=lambda *a: None)
    train(_cfg(corpus_dir, tmp_path / "b", until_epoch=0.7, **kw), log=lambda *a: None)
    b = train(_cfg(corpus_dir, tmp_path / "b", **kw), log=lambda *a: None)
    assert a["step"] == b["step"]
    for k, v in a["model_state"].items():
        assert torch.allclose(v, b["model_state"][k], atol=1e-6), k


def test_small_checkpoint_round_trip(corpus_dir, tmp_path):
    """A small checkpoint keeps masks exactly and weights to fp16, and a run resumes from it."""
    ckpt = train(_cfg(corpus_dir, tmp_path / "run", epochs=1, weight_sparsity=0.5, prune_every=1), log=lambda *a: None)
    path = tmp_path / "small.pt"
    torch.save(small_checkpoint(ckpt), path)
    back = load_checkpoint(path)
    for name, mask in ckpt["pruner"]["masks"].items():
        assert torch.equal(back["pruner"]["masks"][name], mask)
    for k, v in ckpt["model_state"].items():
        assert back["model_state"][k].dtype == v.dtype
        assert torch.allclose(back["model_state"][k], v, atol=1e-3, rtol=1e-3)
    run2 = tmp_path / "run2"
    run2.mkdir()
    (run2 / "checkpoint.pt").write_bytes(path.read_bytes())
    resumed = train(_cfg(corpus_dir, run2, epochs=1.5, weight_sparsity=0.5, prune_every=1), log=lambda *a: None)
    assert resumed["step"] > ckpt["step"]


def test_unknown_optimizer_is_one_line(corpus_dir, tmp_path):
    """A bad optimizer or schedule name fails before training, naming the allowed values."""
    with pytest.raises(ValueError, match="allowed"):
        train(_cfg(corpus_dir, tmp_path / "r", optimizer="rmsprop"), log=lambda *a: None)
    with pytest.raises(ValueError, match="allowed"):
        train(_cfg(corpus_dir, tmp_path / "r", schedule="step"), log=lambda *a: None)


def test_pruner_magnitude_has_no_regularizer():
    """Plain magnitude pruning adds nothing to the loss."""
    assert Pruner(_tiny()).regularizer() is None


def test_ladder_commands_parse():
    """Every queued ladder run is a valid `neurosim train` command line under the one recipe."""
    import argparse
    import importlib.util
    from pathlib import Path

    from neurosim.models import cli as mcli

    path = Path(__file__).resolve().parent.parent / "examples" / "train_ladder.py"
    spec = importlib.util.spec_from_file_location("train_ladder", path)
    ladder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ladder)
    parser = argparse.ArgumentParser()
    mcli.add_train_arguments(parser)
    names = [n for n, _ in ladder.QUEUE]
    assert names[:2] == ["ptb_egru90", "ptb_lstm0"] and "ptb_egru90_neuroprune" in names
    seen = set()
    for name, flags in ladder.QUEUE:
        cmd = ladder.command(name, flags, Path("/tmp/runs"), "/data", 1, 2.0)
        args = parser.parse_args(cmd[4:])
        recipe = (args.optimizer, args.lr, args.schedule, args.batch_size, args.bptt, args.clip,
                  args.prune_start_epoch, args.prune_end_epoch, args.eval_every)
        seen.add(recipe)
        assert args.until_epoch == 2.0 and args.out == f"/tmp/runs/{name}"
        assert args.pruning == ("neuroprune" if name.endswith("neuroprune") else "magnitude")
    assert len(seen) == 1  # one recipe


def test_export_meta_records_training(corpus_dir, tmp_path):
    """An exported trace covers the whole split with tokens=None and carries curve, recipe and commit."""
    from neurosim.models.export import export_trace

    train(_cfg(corpus_dir, tmp_path / "run", epochs=1, eval_every=0.5, schedule="plateau"), log=lambda *a: None)
    trace, _ = export_trace(tmp_path / "run" / "checkpoint.pt", out=tmp_path / "t.npz", tokens=None, values="no")
    meta = trace.meta
    assert trace.n_tokens == 12 * 7 - 1  # every prediction of the test split
    assert len(meta["training"]["curve"]) == 2 and meta["training"]["curve_columns"][1] == "val_ppl"
    assert meta["recipe"]["schedule"] == "plateau" and meta["recipe"]["optimizer"] == "adam"
    assert len(meta["activity_sparsity_per_layer"]) == 2
    assert "git_commit" in meta


def _ladder():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / "train_ladder.py"
    spec = importlib.util.spec_from_file_location("train_ladder", path)
    ladder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ladder)
    return ladder


def test_trace_from_best_carries_the_whole_run_curve(corpus_dir, tmp_path):
    """A trace exported from best.pt gets the run's curve from its latest checkpoint (and says which epoch it
    is); a checkpoint of another run is refused; the ladder's refresh rewrites an older trace's curve only."""
    from neurosim.models.export import export_trace
    from neurosim.trace import load_trace

    run = tmp_path / "run"
    # an impossible improvement threshold: best.pt is the first validation, the run goes on for three more
    train(_cfg(corpus_dir, run, epochs=20, schedule="plateau", eval_every=0.5, plateau_tol=100.0, max_decays=2),
          log=lambda *a: None)
    best, latest = load_checkpoint(run / "best.pt"), load_checkpoint(run / "checkpoint.pt")
    assert len(best["history"]) == 1 and len(latest["history"]) == 4
    trace, _ = export_trace(run / "best.pt", out=tmp_path / "t.npz", tokens=8, run_checkpoint=run / "checkpoint.pt")
    training = trace.meta["training"]
    assert [row[0] for row in training["curve"]] == [row["epoch"] for row in latest["history"]]
    assert training["converged"] and training["lr_cuts"] == 2
    assert training["exported_epoch"] == round(best["epochs_done"], 4)  # as epochs_done is recorded
    assert training["exported_epoch"] < training["epochs_done"]
    assert trace.meta["checkpoint"].endswith("best.pt")

    other = tmp_path / "other"
    train(_cfg(corpus_dir, other, epochs=0.5), log=lambda *a: None)
    with pytest.raises(ValueError, match="another run"):
        export_trace(run / "best.pt", out=tmp_path / "x.npz", tokens=8, run_checkpoint=other / "checkpoint.pt")
    with pytest.raises(FileNotFoundError, match="--run-checkpoint"):
        export_trace(run / "best.pt", out=tmp_path / "x.npz", tokens=8, run_checkpoint=tmp_path / "none.pt")

    ladder = _ladder()
    shipped = tmp_path / "traces"
    shipped.mkdir()
    old, _ = export_trace(run / "best.pt", out=shipped / "run.npz", tokens=8)  # the curve of best.pt alone
    assert len(old.meta["training"]["curve"]) == 1
    said = ladder.refresh_training("run", run, shipped)
    assert "now covers the run" in said
    new = load_trace(shipped / "run.npz")
    assert new.meta["training"] == training | {"train_git_commit": new.meta["training"]["train_git_commit"]}
    assert {k: v for k, v in new.meta.items() if k != "training"} == {k: v for k, v in old.meta.items() if k != "training"}
    for a, b in zip(old.layers, new.layers):
        assert np.array_equal(a.events, b.events) and np.array_equal(a.values, b.values)
    assert "already carries" in ladder.refresh_training("run", run, shipped)
    # the ladder exports a pair of copies that belong together; a best.pt older than a better validation of the
    # copied checkpoint.pt (copied while the run saved a new best) is not such a pair
    assert ladder.snapshot_pair(run) == (run / "export" / "best.pt", run / "export" / "checkpoint.pt")
    torn = tmp_path / "torn"
    torn.mkdir()
    (torn / "best.pt").write_bytes((run / "best.pt").read_bytes())
    ahead = dict(latest, sched_state=dict(latest["sched_state"], best_val=-1.0))  # a newer best than best.pt's
    torch.save(ahead, torn / "checkpoint.pt")
    assert ladder.snapshot_pair(torn, tries=1) == (None, None)
    # a trace from another checkpoint than the current best.pt is left alone
    export_trace(run / "checkpoint.pt", out=shipped / "run.npz", tokens=8)
    assert "export it again" in ladder.refresh_training("run", run, shipped)


def test_an_interrupted_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    """save_atomic writes beside the checkpoint and renames: a save that dies half way leaves the old file whole."""
    from neurosim.models import train as train_module

    path = tmp_path / "checkpoint.pt"
    train_module.save_atomic({"step": 1}, path)
    assert load_checkpoint(path)["step"] == 1 and not (tmp_path / "checkpoint.pt.tmp").exists()

    real_save = torch.save

    def dies_half_way(obj, f):
        real_save(obj, f)
        with open(f, "r+b") as fh:
            fh.truncate(10)
        raise KeyboardInterrupt  # the session ends while the file is being written

    monkeypatch.setattr(train_module.torch, "save", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        train_module.save_atomic({"step": 2}, path)
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1


def test_neuroprune_removes_silent_and_duplicate_egru_units():
    """From observed events, NeuroPrune removes silent units and all but one of units with identical event trains."""
    torch.manual_seed(0)
    model = _tiny()
    pruner = make_pruner(model, "neuroprune", reg=0.0, redundancy=0.95)
    e0 = (torch.rand(20, 3, 12) < 0.3).float()
    e0[..., 5] = 0.0  # silent
    e0[..., 7] = e0[..., 6]  # a duplicate event train
    e1 = (torch.rand(20, 3, 8) < 0.3).float()
    pruner.observe([e0, e1])
    pruner.prune_to(0.5)
    assert pruner.removed[0][5] and (pruner.removed[0][6] ^ pruner.removed[0][7])
    for name, p in recurrent_weights(model):
        assert int((p == 0).sum()) == round(0.5 * p.numel()), name
    assert pruner.n_obs == 0  # the window restarts after a mask update
