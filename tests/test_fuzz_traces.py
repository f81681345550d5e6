"""Generated mutations of the shipped traces: every one loads as a valid trace or fails in one line naming the member.

Mutations of ``traces/*.npz``: flipped bytes and truncation of the archive, members replaced by
garbage or a pickle, dtypes and shapes changed, padding bits set, NaN and inf values, token ids
out of range, and bad ``meta`` values. Either :func:`~neurosim.trace.load_trace` (and the
streaming reader) raises :class:`TraceError` with one line of at most 300 characters, or the
trace loads and keeps every rule of the format.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from functools import cache
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurosim.trace import EventStream, TraceError, load_trace

TRACES = sorted((Path(__file__).resolve().parents[1] / "traces").glob("*.npz"))
FUZZ = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
BAD_META = [True, False, None, -1, 0, 1.5, 10**15, 2**63, "7", [], {}, math.nan, math.inf, "x" * 400]
META_KEYS = ["format", "version", "model", "vocab_size", "input_size", "hidden_sizes", "gates",
             "weight_sparsity", "perplexity", "seed", "dataset"]


@cache
def _members(name: str) -> dict[str, np.ndarray]:
    path = next(p for p in TRACES if p.name == name)
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def _write(path: Path, arrays: dict) -> Path:
    np.savez(path, **arrays)
    return path


def _check_loaded(trace) -> None:
    """A trace that loaded keeps the format's rules."""
    m = trace.meta
    assert type(m["vocab_size"]) is int and 0 <= trace.tokens.min() and trace.tokens.max() < m["vocab_size"]
    for layer in trace.layers:
        assert layer.events.dtype == bool
        if layer.values is not None:
            assert np.isfinite(layer.values).all() and layer.values.shape[0] == layer.events.sum()
    assert abs(trace.measured_weight_sparsity() - m["weight_sparsity"]) < 0.02


def _load_or_one_line(path: Path, member: str | None) -> None:
    """load_trace gives a valid trace or a one-line TraceError (naming ``member`` when given)."""
    for events in (True, False):
        try:
            trace = load_trace(path, events=events)
        except TraceError as exc:
            msg = str(exc)
            assert "\n" not in msg and len(msg) <= 300, msg
            assert member is None or member in msg, (member, msg)
            continue
        if events:
            _check_loaded(trace)
        else:
            try:
                with EventStream(path, trace.hidden_sizes, trace.n_tokens) as stream:
                    stream.read(0, trace.n_tokens)
            except TraceError as exc:
                assert "\n" not in str(exc) and len(str(exc)) <= 300, str(exc)


@st.composite
def array_mutations(draw):
    """(trace name, mutated member arrays, member named by the error or None)."""
    name = draw(st.sampled_from([p.name for p in TRACES]))
    arrays = dict(_members(name))
    meta = json.loads(str(arrays["meta"][()]))
    keys = sorted(k for k in arrays if k != "meta")
    op = draw(st.sampled_from(["meta", "dtype", "shape", "padding", "values", "tokens", "drop", "sparsity"]))
    member = draw(st.sampled_from(keys))
    a = arrays[member]
    if op == "meta":
        key = draw(st.sampled_from(META_KEYS))
        meta[key] = draw(st.sampled_from(BAD_META))
        arrays["meta"] = np.array(json.dumps(meta))
        return name, arrays, f"meta.{key}" if key != "dataset" or not isinstance(meta[key], str) else None
    if op == "dtype":
        arrays[member] = a.astype(draw(st.sampled_from([np.int64, np.float32, np.uint16, np.bool_, np.int8])))
        return name, arrays, member
    if op == "shape":
        cut = draw(st.integers(1, 3))
        arrays[member] = a[:-cut] if a.ndim == 1 or draw(st.booleans()) else a[:, :-1]
        return name, arrays, None  # fewer events can make the values member the one that no longer fits
    if op == "padding":
        packed = [k for k in keys if k.endswith(("_events", "_mask"))]
        member = draw(st.sampled_from(packed))
        a = arrays[member].copy()
        a[draw(st.integers(0, a.shape[0] - 1)), -1] |= 1
        arrays[member] = a
        return name, arrays, None  # a full last byte has no padding: the trace stays valid
    if op == "values":
        vals = [k for k in keys if k.endswith("_values")]
        if not vals:
            return name, arrays, None
        member = draw(st.sampled_from(vals))
        a = arrays[member].copy()
        a[draw(st.integers(0, a.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        arrays[member] = a
        return name, arrays, member
    if op == "tokens":
        a = arrays["tokens"].copy()
        a[draw(st.integers(0, a.size - 1))] = draw(st.sampled_from([-1, meta["vocab_size"], 2**31 - 1]))
        arrays["tokens"] = a
        return name, arrays, "tokens"
    if op == "drop":
        del arrays[member]
        return name, arrays, None if member.endswith("_values") else member
    meta["weight_sparsity"] = draw(st.sampled_from([0.0, 0.1, 0.5, 0.99, 1.0]))
    arrays["meta"] = np.array(json.dumps(meta))
    return name, arrays, None


@FUZZ
@given(array_mutations())
def test_array_mutations_load_or_fail_in_one_line(tmp_path, case):
    """Changed dtypes, shapes, padding, values, token ids and meta: a valid trace or one line naming the member."""
    name, arrays, member = case
    _load_or_one_line(_write(tmp_path / name, arrays), member)


@st.composite
def byte_mutations(draw):
    """(trace name, archive bytes with flipped bytes, truncation or a replaced member)."""
    path = draw(st.sampled_from(TRACES))
    raw = bytearray(path.read_bytes())
    op = draw(st.sampled_from(["flip", "flip", "truncate", "garbage", "pickle", "big_header"]))
    if op == "flip":
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, len(raw) - 1))
            raw[i] ^= draw(st.integers(1, 255))
        return path.name, bytes(raw)
    if op == "truncate":
        return path.name, bytes(raw[: draw(st.integers(0, len(raw) - 1))])
    member = draw(st.sampled_from(sorted(_members(path.name))))
    out = io.BytesIO()
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == f"{member}.npy":
                data = _replacement(op, data, draw)
            zout.writestr(info.filename, data)
    return path.name, out.getvalue()


def _replacement(op: str, data: bytes, draw) -> bytes:
    if op == "garbage":
        return draw(st.binary(min_size=0, max_size=64))
    buf = io.BytesIO()
    if op == "pickle":
        np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
        return buf.getvalue()
    rows = draw(st.sampled_from([10**6, 10**9, 10**12]))
    np.lib.format.write_array_header_1_0(buf, {"descr": "|u1", "fortran_order": False, "shape": (rows, 64)})
    return buf.getvalue() + data[128:]


@FUZZ
@given(byte_mutations())
def test_byte_mutations_load_or_fail_in_one_line(tmp_path, case):
    """Flipped bytes, truncation, garbage, pickled members and 10**12-row headers: one line, nothing allocated."""
    name, raw = case
    path = tmp_path / name
    path.write_bytes(raw)
    _load_or_one_line(path, None)


def test_every_shipped_trace_loads_and_streams():
    """The unmutated traces pass every check, whole and streamed."""
    for path in TRACES:
        _load_or_one_line(path, None)
        load_trace(path)
