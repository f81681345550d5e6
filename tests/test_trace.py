"""Trace format: round trip, checks that name the key, the synop formula."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neurosim.trace import TraceError, load_trace, save_trace, summary, synops_per_step, synthetic


def brute_force_synops(trace):
    """Loop over every event and synapse: the formula of the trace format, written out."""
    out = np.zeros((len(trace.layers), trace.n_tokens), dtype=np.int64)
    for l, layer in enumerate(trace.layers):
        for t in range(trace.n_tokens):
            pre = np.ones(trace.input_size, bool) if l == 0 else trace.layers[l - 1].events[t]
            for i in np.flatnonzero(pre):
                out[l, t] += int(layer.w_in_mask[i].sum())
            if t > 0:
                for j in np.flatnonzero(layer.events[t - 1]):
                    out[l, t] += int(layer.w_rec_mask[j].sum())
    return out


def test_round_trip_keeps_every_array(tmp_path):
    """A saved trace loads back bit for bit, values included."""
    trace = synthetic([13, 9], input_size=5, activity=0.4, weight_sparsity=0.5, tokens=7, values=True)
    back = load_trace(save_trace(trace, tmp_path / "t.npz"))
    assert back.meta == trace.meta
    np.testing.assert_array_equal(back.tokens, trace.tokens)
    for a, b in zip(trace.layers, back.layers):
        np.testing.assert_array_equal(a.events, b.events)
        np.testing.assert_array_equal(a.w_in_mask, b.w_in_mask)
        np.testing.assert_array_equal(a.w_rec_mask, b.w_rec_mask)
        np.testing.assert_array_equal(a.values, b.values)


def test_file_layout_is_the_public_contract(tmp_path):
    """Keys, dtypes and packed shapes are exactly those of the format."""
    trace = synthetic([13], input_size=5, gates=4, tokens=7)
    path = save_trace(trace, tmp_path / "t.npz")
    with np.load(path) as z:
        assert set(z.files) == {"meta", "tokens", "layer0_events", "layer0_w_in_mask", "layer0_w_rec_mask"}
        assert z["tokens"].dtype == np.int32
        assert z["layer0_events"].shape == (7, 2) and z["layer0_events"].dtype == np.uint8
        assert z["layer0_w_in_mask"].shape == (5, 7)  # ceil(4*13/8) = 7
        assert z["layer0_w_rec_mask"].shape == (13, 7)
        assert json.loads(str(z["meta"][()]))["format"] == "neurosim-trace"


def test_synthetic_has_exact_weight_sparsity():
    """Every synthetic mask has exactly round((1-w) * size) nonzeros."""
    trace = synthetic([50, 30], input_size=20, weight_sparsity=0.9, seed=1)
    for layer in trace.layers:
        for mask in (layer.w_in_mask, layer.w_rec_mask):
            assert mask.sum() == round(0.1 * mask.size)


def test_synops_formula_matches_brute_force():
    """The vectorised synop count equals a loop over every event and synapse."""
    trace = synthetic([17, 11, 6], input_size=9, activity=0.35, weight_sparsity=0.7, tokens=9, seed=5)
    np.testing.assert_array_equal(synops_per_step(trace), brute_force_synops(trace))


def test_summary_ratio_is_effective_over_dense():
    """ops per token / dense MACs equals the summary's ratio."""
    info = summary(synthetic([40], input_size=10, activity=0.2, weight_sparsity=0.8, tokens=50))
    assert info["effective_to_dense_ratio"] == pytest.approx(info["synaptic_ops_per_token"] / info["dense_macs_per_token"])


def _write(path, **arrays):
    np.savez_compressed(path, **arrays)
    return path


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda a, m: m.update(version=2), "meta.version"),
        (lambda a, m: m.update(model=""), "meta.model"),  # any non-empty name is allowed
        (lambda a, m: m.update(gates=4), "meta.gates"),
        (lambda a, m: m.pop("seed"), "meta: missing"),
        (lambda a, m: a.update(tokens=a["tokens"].astype(np.int64)), "tokens"),
        (lambda a, m: a.update(layer0_events=a["layer0_events"][:, :1]), "layer0_events"),
        (lambda a, m: a.pop("layer0_w_rec_mask"), "layer0_w_rec_mask"),
        (lambda a, m: a.update(layer0_w_in_mask=a["layer0_w_in_mask"].astype(np.int16)), "layer0_w_in_mask"),
    ],
)
def test_bad_trace_names_the_key(tmp_path, mutate, key):
    """A broken trace fails with a one-line error that names the offending key."""
    trace = synthetic([13], input_size=5, tokens=4)
    trace = trace.__class__(meta={**trace.meta, "model": "egru"}, tokens=trace.tokens, layers=trace.layers)
    good = save_trace(trace, tmp_path / "good.npz")
    with np.load(good) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"][()]))
    mutate(arrays, meta)
    arrays["meta"] = np.array(json.dumps(meta))
    with pytest.raises(TraceError) as err:
        load_trace(_write(tmp_path / "bad.npz", **arrays))
    assert key in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_file_is_a_trace_error(tmp_path):
    with pytest.raises(TraceError, match="no such file"):
        load_trace(tmp_path / "nope.npz")


def test_tokens_prefix(tmp_path):
    """Loading with tokens=N keeps the first N steps and their values."""
    trace = synthetic([13], input_size=5, activity=0.5, tokens=9, values=True)
    part = load_trace(save_trace(trace, tmp_path / "t.npz"), tokens=4)
    assert part.n_tokens == 4
    np.testing.assert_array_equal(part.layers[0].events, trace.layers[0].events[:4])
    assert part.layers[0].values.shape[0] == trace.layers[0].events[:4].sum()
