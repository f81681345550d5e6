"""Strict trace loading: each broken member or meta value fails in one line naming the file, member and rule."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from neurosim.trace import EventStream, TraceError, load_trace, read_meta, save_trace, synthetic, validate_arrays

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def arrays(tmp_path):
    """The members of a small valid trace with values (13 units: 3 padding bits per row)."""
    trace = synthetic([13, 6], input_size=5, activity=0.4, weight_sparsity=0.5, tokens=9, values=True, vocab_size=50)
    path = save_trace(trace, tmp_path / "good.npz")
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def _one_line(path, **kw) -> str:
    with pytest.raises(TraceError) as err:
        load_trace(path, **kw)
    msg = str(err.value)
    assert "\n" not in msg and len(msg) <= 300, msg
    assert Path(path).name in msg, msg
    return msg


def _meta(arrays, **changes):
    meta = {**json.loads(str(arrays["meta"][()])), **changes}
    return {**arrays, "meta": np.array(json.dumps(meta))}


def _with(arrays, key, value):
    return {**arrays, key: value}


def _set(a, index, value):
    a = a.copy()
    a[index] = value
    return a


CASES = [
    ("padding bit", lambda a: _with(a, "layer0_events", _set(a["layer0_events"], (2, -1), a["layer0_events"][2, -1] | 1)),
     "layer0_events: padding bits set in row 2"),
    ("padding mask", lambda a: _with(a, "layer0_w_rec_mask", _set(a["layer0_w_rec_mask"], (0, -1), 255)),
     "layer0_w_rec_mask: padding bits set"),
    ("nan value", lambda a: _with(a, "layer1_values", _set(a["layer1_values"], 0, np.nan)),
     "layer1_values: value nan at index 0"),
    ("inf value", lambda a: _with(a, "layer0_values", _set(a["layer0_values"], -1, np.inf)), "layer0_values: value inf"),
    ("negative token", lambda a: _with(a, "tokens", _set(a["tokens"], 3, -1)), "tokens: id -1 at step 3"),
    ("token >= vocab", lambda a: _with(a, "tokens", _set(a["tokens"], 0, 50)), "allowed: 0 <= id < meta.vocab_size = 50"),
    ("vocab 10**15", lambda a: _meta(a, vocab_size=10**15), "meta.vocab_size: is 1000000000000000"),
    ("vocab true", lambda a: _meta(a, vocab_size=True), "meta.vocab_size: is True"),
    ("vocab float", lambda a: _meta(a, input_size=5.0), "meta.input_size: is 5.0"),
    ("version true", lambda a: _meta(a, version=True), "meta.version: is True"),
    ("hidden bool", lambda a: _meta(a, hidden_sizes=[13, True]), "meta.hidden_sizes"),
    ("perplexity nan", lambda a: _meta(a, perplexity=float("nan")), "meta: not valid JSON (NaN is not a finite"),
    ("perplexity bool", lambda a: _meta(a, perplexity=True), "meta.perplexity: is True"),
    ("sparsity contradicts masks", lambda a: _meta(a, weight_sparsity=0.9), "meta.weight_sparsity: is 0.9, but the layer"),
    ("sparsity bool", lambda a: _meta(a, weight_sparsity=False), "meta.weight_sparsity: is False"),
    ("values count", lambda a: _with(a, "layer0_values", a["layer0_values"][:-1]), "layer0_values: holds"),
    ("values dtype", lambda a: _with(a, "layer0_values", a["layer0_values"].astype(np.float32)), "layer0_values: dtype float32"),
    ("tokens dtype", lambda a: _with(a, "tokens", a["tokens"].astype(np.int64)), "tokens: dtype int64"),
    ("events shape", lambda a: _with(a, "layer1_events", a["layer1_events"][:-1]), "layer1_events: dtype uint8 shape (8, 1)"),
    ("object member", lambda a: _with(a, "layer0_values", np.array([{"x": 1}], dtype=object)), "layer0_values: holds Python objects"),
    ("meta not json", lambda a: _with(a, "meta", np.array("{not json")), "meta: not valid JSON"),
    ("meta not a string", lambda a: _with(a, "meta", np.zeros(3)), "meta: dtype float64"),
]


@pytest.mark.parametrize("mutate, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_broken_member_is_one_line(tmp_path, arrays, mutate, message):
    """Each broken member or meta value is a one-line TraceError naming the file, the member and the rule."""
    path = tmp_path / "bad.npz"
    np.savez(path, **mutate(arrays)) if "object member" not in message else None
    if not path.exists():  # an object array needs allow_pickle to be written
        with zipfile.ZipFile(path, "w") as z:
            for key, value in mutate(arrays).items():
                buf = io.BytesIO()
                np.save(buf, value, allow_pickle=True)
                z.writestr(f"{key}.npy", buf.getvalue())
    assert message in _one_line(path)


def _rezip(src: Path, dst: Path, member: str, fn, compress=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compress) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info.filename, fn(data) if info.filename == f"{member}.npy" else data)
    return dst


def test_bad_crc_is_one_line(tmp_path, arrays):
    """A flipped data byte in a stored member fails its CRC: one line naming the member."""
    good = tmp_path / "good.npz"
    np.savez(good, **arrays)
    raw = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as z:
        info = z.getinfo("layer0_w_in_mask.npy")
    raw[info.header_offset + 30 + len(info.filename) + info.compress_size - 1] ^= 0xFF  # the member's last data byte
    bad = tmp_path / "crc.npz"
    bad.write_bytes(bytes(raw))
    assert "layer0_w_in_mask: cannot be read (BadZipFile: Bad CRC-32" in _one_line(bad)
    with pytest.raises(TraceError, match="Bad CRC-32"):
        load_trace(bad, events=False)


def test_header_claiming_10_to_12_rows_allocates_nothing(tmp_path, arrays):
    """A header claiming (10**12, 64) is refused against the member's size, before any allocation."""
    good = tmp_path / "good.npz"
    np.savez_compressed(good, **arrays)

    def big(data):
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, {"descr": "|u1", "fortran_order": False, "shape": (10**12, 64)})
        return buf.getvalue() + data[128:]

    msg = _one_line(_rezip(good, tmp_path / "big.npz", "layer0_events", big))
    assert "layer0_events: header claims uint8 (1000000000000, 64)" in msg


def test_garbage_member_and_wrong_file_kinds(tmp_path, arrays):
    """A garbage member, a plain .npy named .npz, a pickle and a text file: one line each."""
    good = tmp_path / "good.npz"
    np.savez_compressed(good, **arrays)
    assert "tokens: not a readable .npy array" in _one_line(_rezip(good, tmp_path / "g.npz", "tokens", lambda d: b"junk" * 9))
    npy = tmp_path / "plain.npz"
    np.save(tmp_path / "plain.npy", arrays["tokens"])
    (tmp_path / "plain.npy").rename(npy)
    assert "a plain .npy array, not an .npz archive" in _one_line(npy)
    pkl = tmp_path / "p.npz"
    pkl.write_bytes(b"\x80\x04K\x01.")
    assert "a Python pickle" in _one_line(pkl)
    txt = tmp_path / "t.npz"
    txt.write_text("hello")
    assert "not a readable .npz archive" in _one_line(txt)


def test_tokens_beyond_the_trace_is_an_error(tmp_path, arrays):
    """Asking for more tokens than the trace holds fails; it is not silently trimmed."""
    path = tmp_path / "t.npz"
    np.savez(path, **arrays)
    assert "tokens: asked for 10, the trace holds 9" in _one_line(path, tokens=10)
    assert load_trace(path, tokens=9).n_tokens == 9


def test_stream_uses_the_same_checks(tmp_path, arrays):
    """Streaming refuses set padding bits and a truncated events header, in one line."""
    path = tmp_path / "s.npz"
    bad = _set(arrays["layer0_events"], (5, -1), arrays["layer0_events"][5, -1] | 1)
    np.savez(path, **{**arrays, "layer0_events": bad})
    trace_meta = json.loads(str(arrays["meta"][()]))
    with EventStream(path, trace_meta["hidden_sizes"], 9) as stream:
        stream.read(0, 4)
        with pytest.raises(TraceError, match="layer0_events: padding bits set in row 5"):
            stream.read(0, 9)
    with pytest.raises(TraceError, match="layer0_events: .*allowed: uint8 \\[T >= 10"):
        EventStream(path, trace_meta["hidden_sizes"], 10)


def test_validate_arrays_is_reusable(arrays):
    """validate_arrays checks in-memory arrays with the loader's rules."""
    trace = synthetic([13], input_size=5, tokens=4, vocab_size=20)
    layer = trace.layers[0]
    validate_arrays(trace.meta, trace.tokens, trace.layers)
    with pytest.raises(TraceError, match="layer0_events: dtype is uint8, allowed: bool"):
        validate_arrays(trace.meta, trace.tokens, [layer.__class__(layer.events.astype(np.uint8), layer.w_in_mask,
                                                                   layer.w_rec_mask)])
    with pytest.raises(TraceError, match="tokens: id 20"):
        validate_arrays(trace.meta, np.full(4, 20), trace.layers)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_folder_device_or_fifo_is_never_opened(tmp_path):
    """A folder, /dev/zero and a FIFO (which would block a reader) are refused in one line."""
    fifo = tmp_path / "f.npz"
    os.mkfifo(fifo)
    for path, what in ((tmp_path, "is a folder"), (Path("/dev/zero"), "not a regular file"),
                       (fifo, "not a regular file")):
        with pytest.raises(TraceError, match=what):
            load_trace(path)
        with pytest.raises(TraceError, match=what):
            read_meta(path)


def test_memory_error_while_reading_is_one_line(tmp_path, arrays, monkeypatch):
    """A member that does not fit in memory is a one-line TraceError naming it, not a MemoryError."""
    import neurosim.trace.format as fmt

    path = tmp_path / "m.npz"
    np.savez(path, **arrays)

    def no_memory(*a, **k):
        raise MemoryError

    monkeypatch.setattr(fmt.np, "frombuffer", no_memory)
    assert "m.npz: meta: 1" in _one_line(path) and "bytes do not fit in memory" in _one_line(path)


def test_a_member_stored_twice_is_refused(tmp_path, arrays):
    """A zip holding the same member twice (which one would win?) is refused."""
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    buf = io.BytesIO()
    np.save(buf, arrays["tokens"])
    with zipfile.ZipFile(path, "a") as z, pytest.warns(UserWarning, match="Duplicate name"):
        z.writestr("tokens.npy", buf.getvalue())
    assert "member 'tokens.npy' appears twice" in _one_line(path)
