"""Strict specs: bad numbers, non-finite values, engine limits, malformed YAML and base: errors, one line each."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from conftest import TINY_ARCH

from neurosim import limits
from neurosim.arch import ChipArch, arch_from_dict, load_arch
from neurosim.cli import main
from neurosim.spec import SpecError, parse_override

SPECS = Path(__file__).resolve().parents[1] / "arch_specs"


def _write(tmp_path, data, name="a.yaml"):
    path = tmp_path / name
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def _with(path: str, value):
    data = copy.deepcopy(TINY_ARCH)
    *parents, key = path.split(".")
    node = data
    for p in parents:
        node = node[p]
    node[key] = value
    return data


def _one_line_error(fn) -> str:
    with pytest.raises(SpecError) as err:
        fn()
    msg = str(err.value)
    assert "\n" not in msg and len(msg) <= 300, msg
    return msg


BAD_VALUES = [
    # strict numbers
    ("cores.weight_bits", "64", "cores.weight_bits: got '64' (a str); allowed: an integer"),
    ("noc.flit_bits", True, "noc.flit_bits: got True (a bool); allowed: an integer"),
    ("clock_hz", "1000", "clock_hz: got '1000' (a str); allowed: a number"),
    ("energy_pj.synop", False, "energy_pj.synop: got False (a bool); allowed: a number"),
    ("cores.neuron_update_cycles_active", 1e17, "got 1e+17 (a float); allowed: an integer"),
    ("cores.count", 4.0, "cores.count: got 4.0 (a float); allowed: an integer"),
    ("name", 5, "name: got 5 (an int); allowed: a string"),
    ("version", True, "version: got True; allowed: 1"),
    ("version", 1.0, "version: got 1.0; allowed: 1"),
    # finite
    ("static_power_w", float("inf"), "static_power_w: got inf; allowed: a finite number"),
    ("energy_pj.synop", float("inf"), "energy_pj.synop: got inf; allowed: a finite number"),
    ("energy_pj.barrier", float("nan"), "energy_pj.barrier: got nan; allowed: a finite number"),
    ("clock_hz", float("-inf"), "clock_hz: got -inf; allowed: a finite number"),
    # engine limits, named
    ("barrier.base_cycles", 2**62,
     "barrier.base_cycles: got 4611686018427387904; allowed: <= MAX_EVENT_CYCLES = 2**31"),
    ("barrier.per_router_cycles", 2**31, "barrier.per_router_cycles * 4 routers"),
    ("cores.synapse_overhead_cycles", 2**62, "allowed: <= MAX_EVENT_CYCLES = 2**31"),
    ("cores.neuron_update_cycles_inactive", 2**31 + 1, "allowed: <= MAX_EVENT_CYCLES = 2**31"),
    ("noc.hop_y_latency_cycles", 2**40, "allowed: <= MAX_LINK_LATENCY_CYCLES = 2**20"),
    ("cores.synops_per_cycle", 1e-12, "cores.synops_per_cycle: got 1e-12; allowed: >= MIN_SYNOPS_PER_CYCLE = 1e-06"),
    ("cores.synops_per_cycle", 1e300, "allowed: <= MAX_SYNOPS_PER_CYCLE"),
    ("cores.synapse_overhead_cycles", 2**31, "cycles for one packet; allowed: <= MAX_EVENT_CYCLES"),
    ("cores.count", 10**30, "cores.count: got 1000000000000000000000000000000; allowed: <= MAX_CORES"),
    ("noc.mesh_x", 2**40, "noc.mesh_x: got 1099511627776; allowed: <= MAX_ROUTERS"),
    ("cores.synapse_memory_bytes", 2**70, "allowed: <= MAX_MEMORY_BYTES"),
    ("noc.packet_header_bits", 2**40, "allowed: <= MAX_RECORD_BITS"),
    ("cores.index_bits", 2,
     "cores.index_bits=2 cannot address cores.neurons_per_core=64; allowed: 0 (automatic) or >= 6"),
    ("clock_hz", 1e-300, "clock_hz: got 1e-300; allowed: >= MIN_CLOCK_HZ"),
    ("energy_pj.synop", 1e300, "allowed: <= MAX_ENERGY_PJ"),
    ("static_power_w", 1e300, "allowed: <= MAX_POWER_W"),
    ("energy_pj.synop", -1.0, "energy_pj.synop: got -1.0"),
]


@pytest.mark.parametrize("path, value, expected", BAD_VALUES, ids=[f"{p}={v!r}" for p, v, _ in BAD_VALUES])
def test_bad_value_is_a_one_line_error(tmp_path, path, value, expected):
    """A bool, numeric string, non-finite or out-of-limit value fails in one line with the file, key and limit."""
    spec = _write(tmp_path, _with(path, value))
    msg = _one_line_error(lambda: load_arch(spec))
    assert msg.startswith("a.yaml: ") and expected in msg


def test_zero_bit_packet_is_an_error(tmp_path):
    """A packet of 0 bits is refused instead of being clamped to one flit."""
    data = _with("noc.packet_header_bits", 0)
    data["noc"]["payload_bits"] = 0
    msg = _one_line_error(lambda: load_arch(_write(tmp_path, data)))
    assert "noc.packet_header_bits + noc.payload_bits = 0" in msg


def test_ints_accepted_where_floats_are_expected(tmp_path):
    """``clock_hz: 1000000000`` and ``energy_pj.synop: 2`` are numbers: they load as floats."""
    arch = load_arch(_write(tmp_path, _with("clock_hz", 10**9)))
    assert arch.clock_hz == 1e9 and isinstance(arch.clock_hz, float)


def test_exponent_without_a_dot_is_a_number(tmp_path):
    """``1e9`` is a number (YAML 1.2), not the string YAML 1.1 makes of it; quoted ``'1e9'`` stays a string."""
    text = yaml.safe_dump(TINY_ARCH).replace("clock_hz: 1000000000.0", "clock_hz: 1e9")
    assert "clock_hz: 1e9" in text
    assert load_arch(_write(tmp_path, text)).clock_hz == 1e9
    assert parse_override("clock_hz=2E9")[1] == 2e9
    assert parse_override("name='1e9'")[1] == "1e9"


def test_limits_at_the_edge_load(tmp_path):
    """A spec exactly at every per-key limit is valid."""
    data = copy.deepcopy(TINY_ARCH)
    data["barrier"] = {"base_cycles": limits.MAX_EVENT_CYCLES - 4, "per_router_cycles": 1}
    data["cores"].update(neuron_update_cycles_active=limits.MAX_EVENT_CYCLES, synops_per_cycle=1e-4,
                         synapse_overhead_cycles=limits.MAX_EVENT_CYCLES - 128 * 10**4)
    data["noc"].update(hop_x_latency_cycles=limits.MAX_LINK_LATENCY_CYCLES, packet_header_bits=limits.MAX_RECORD_BITS)
    arch = load_arch(_write(tmp_path, data))
    assert arch.barrier_cycles == limits.MAX_EVENT_CYCLES
    assert arch.max_packet_cycles == limits.MAX_EVENT_CYCLES


@pytest.mark.parametrize("override, expected", [
    ("energy_pj.synop=.inf", "energy_pj.synop: got inf; allowed: a finite number"),
    ("energy_pj.synop=.nan", "energy_pj.synop: got nan; allowed: a finite number"),
    ("noc.flit_bits=true", "noc.flit_bits: got True (a bool)"),
    ("cores.weight_bits='64'", "cores.weight_bits: got '64' (a str)"),
    ("barrier.base_cycles=4611686018427387904", "MAX_EVENT_CYCLES"),
])
def test_overrides_are_validated_the_same_way(tmp_path, override, expected):
    """``--set key=value`` goes through the same strict checks as the file."""
    spec = _write(tmp_path, TINY_ARCH)
    assert expected in _one_line_error(lambda: load_arch(spec, [override]))


def test_numpy_scalars_from_the_api_are_numbers():
    """A sweep or API caller may pass numpy scalars: ints and floats pass, numpy bools do not."""
    np = pytest.importorskip("numpy")
    data = _with("cores.count", np.int64(4))
    data["clock_hz"] = np.float64(1e9)
    assert arch_from_dict(data).cores.count == 4
    with pytest.raises(SpecError, match="a bool"):
        arch_from_dict(_with("noc.flit_bits", np.bool_(True)))


def test_several_problems_stay_on_one_line(tmp_path):
    """All problems are counted; the first is shown in full and the others by key path."""
    data = _with("cores.count", True)
    data["noc"]["flit_bits"] = "wide"
    data["energy_pj"]["synop"] = float("nan")
    msg = _one_line_error(lambda: load_arch(_write(tmp_path, data)))
    assert "cores.count: got True" in msg and "(and 2 more: noc.flit_bits, energy_pj.synop)" in msg


def test_long_values_are_shortened(tmp_path):
    msg = _one_line_error(lambda: load_arch(_write(tmp_path, _with("cores.count", "x" * 5000))))
    assert "cores.count: got 'xxx" in msg and "x... (a str)" in msg and len(msg) < 160


# ----------------------------------------------------------------------------- YAML files

TEXT = yaml.safe_dump(TINY_ARCH, sort_keys=False)

BAD_FILES = [
    ("duplicate", TEXT.replace("  weight_bits: 8\n", "  weight_bits: 8\n  weight_bits: 16\n"),
     "cores.weight_bits: duplicate key (first at line"),
    ("duplicate_top", TEXT + "name: again\n", "name: duplicate key (first at line 3)"),
    ("utf16", TEXT.encode("utf-16"), "encoded as UTF-16; allowed: UTF-8"),
    ("utf16_no_bom", TEXT.encode("utf-16-le"), "NUL byte at offset 1"),
    ("binary", bytes(range(256)), "NUL byte at offset 0"),
    ("latin1", TEXT.replace("name: tiny", "name: caf\xe9").encode("latin-1"), "line 3: byte 0xe9 is not UTF-8"),
    ("bomb", "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8)),
     "expands to more than 100000 values"),
    ("many_aliases", "a: &a 1\nb: [" + ", ".join(["*a"] * 2000) + "]\n", "more than 1000 alias references"),
    ("recursive", "a: &a [1, *a]\n", "a.1: an alias refers to its own anchor"),
    ("deep", "a: " + "[" * 40 + "]" * 40 + "\n", "nested deeper than 32 levels"),
    ("very_deep", "a: " + "[" * 5000 + "]" * 5000 + "\n", "not valid YAML"),
    ("syntax", "a: [1, 2\nb: 3\n", "line 2: not valid YAML"),
    ("empty", "", "a.yaml: empty; allowed: a mapping of keys"),
    ("list", "- 1\n- 2\n", "top level is list"),
    ("unhashable", "? [1, 2]\n: 3\n", "not valid YAML"),
]


@pytest.mark.parametrize("name, content, expected", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_malformed_file_is_a_one_line_error_naming_it(tmp_path, name, content, expected):
    """Duplicate keys, wrong encodings, alias bombs, deep nesting and bad syntax each fail in one line."""
    spec = _write(tmp_path, content)
    msg = _one_line_error(lambda: load_arch(spec))
    assert str(spec) in msg or msg.startswith("a.yaml"), msg
    assert expected in msg


def test_oversized_file_is_refused_without_reading_it(tmp_path):
    spec = tmp_path / "big.yaml"
    spec.write_text("# " + "x" * limits.MAX_SPEC_BYTES + "\n")
    assert "allowed: <= MAX_SPEC_BYTES = 2**20 bytes" in _one_line_error(lambda: load_arch(spec))


def test_not_a_file(tmp_path):
    assert "is a directory" in _one_line_error(lambda: load_arch(tmp_path))
    assert "no such file" in _one_line_error(lambda: load_arch(tmp_path / "nope.yaml"))


def test_merge_keys_are_not_duplicates(tmp_path):
    """``<<: *anchor`` followed by an explicit key is an override, not a duplicate."""
    data = copy.deepcopy(TINY_ARCH)
    energy = data.pop("energy_pj")
    rest = "".join(f"  {k}: {v}\n" for k, v in energy.items() if k not in ("synop", "neuron_update_active"))
    text = (yaml.safe_dump(data) + "description: &d {synop: 1.0, neuron_update_active: 2.0}\n"
            + "energy_pj:\n  <<: *d\n  synop: 5.0\n" + rest)
    with pytest.raises(SpecError, match="description: got"):  # the anchor's host key is still checked
        load_arch(_write(tmp_path, text))
    text = yaml.safe_dump(data) + "energy_pj:\n  <<: {synop: 1.0, neuron_update_active: 2.0}\n  synop: 5.0\n" + rest
    arch = load_arch(_write(tmp_path, text))
    assert arch.energy_pj.synop == 5.0 and arch.energy_pj.neuron_update_active == 2.0


# ----------------------------------------------------------------------------- base:


def test_missing_base_names_the_file_whose_base_failed(tmp_path):
    child = _write(tmp_path, "base: nope.yaml\nname: child\n", "child.yaml")
    msg = _one_line_error(lambda: load_arch(child))
    assert msg.startswith("child.yaml: base: 'nope.yaml': ") and "no such file" in msg


def test_bad_base_type(tmp_path):
    child = _write(tmp_path, "base: [1, 2]\n", "child.yaml")
    assert "child.yaml: base: got [1, 2]; allowed: a path" in _one_line_error(lambda: load_arch(child))


def test_error_inside_a_base_file_names_both(tmp_path):
    _write(tmp_path, TEXT + "name: twice\n", "parent.yaml")
    child = _write(tmp_path, "base: parent.yaml\nname: child\n", "child.yaml")
    msg = _one_line_error(lambda: load_arch(child))
    assert msg.startswith("child.yaml: base: 'parent.yaml': ") and "parent.yaml: line" in msg
    assert "duplicate key" in msg


def test_circular_base_names_the_chain(tmp_path):
    _write(tmp_path, "base: b.yaml\n", "a.yaml")
    _write(tmp_path, "base: a.yaml\n", "b.yaml")
    msg = _one_line_error(lambda: load_arch(tmp_path / "a.yaml"))
    assert "circular inheritance a.yaml -> b.yaml -> a.yaml" in msg


def test_self_base_is_circular(tmp_path):
    spec = _write(tmp_path, "base: a.yaml\n", "a.yaml")
    assert "circular" in _one_line_error(lambda: load_arch(spec))


# ----------------------------------------------------------------------------- GPU specs


def _gpu(path: str, value):
    data = yaml.safe_load((SPECS / "gpu_a100.yaml").read_text())
    *parents, key = path.split(".")
    node = data
    for p in parents:
        node = node[p]
    node[key] = value
    return data


@pytest.mark.parametrize("path, value, expected", [
    ("memory.hbm_bandwidth_bytes_per_s", 1e-300, "allowed: >= MIN_RATE_PER_S"),
    ("memory.hbm_bandwidth_bytes_per_s", float("inf"), "a finite number"),
    ("peak_flops.fp16", True, "peak_flops.fp16: got True (a bool)"),
    ("efficiency.hbm", 1e-300, "allowed: >= MIN_FRACTION"),
    ("energy.flop_pj.fp16", float("nan"), "energy.flop_pj.fp16: got nan"),
    ("kernels.launch_overhead_s", 1e300, "allowed: <= MAX_SECONDS"),
    ("static_power_w", float("inf"), "static_power_w: got inf"),
    ("version", True, "version: got True; allowed: 1"),
    ("memory.l2_bytes", "40MB", "memory.l2_bytes: got '40MB' (a str)"),
])
def test_gpu_spec_is_strict(tmp_path, path, value, expected):
    spec = _write(tmp_path, _gpu(path, value))
    assert expected in _one_line_error(lambda: load_arch(spec))


# ----------------------------------------------------------------------------- the CLI


@pytest.mark.parametrize("content", [
    _with("barrier.base_cycles", 2**62), _with("cores.weight_bits", "64"), _with("version", True),
    _with("cores.index_bits", 2), TEXT + "name: again\n", TEXT.encode("utf-16"), "base: nope.yaml\n",
])
def test_validate_exits_2_with_one_line(tmp_path, capsys, content):
    """``neurosim validate`` on a malformed spec: exit status 2, one line on stderr, nothing on stdout."""
    spec = _write(tmp_path, content)
    assert main(["validate", str(spec)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("neurosim: error: ")


def test_validate_set_inf_exits_2(tmp_path, capsys):
    spec = _write(tmp_path, TINY_ARCH)
    assert main(["validate", str(spec), "--set", "energy_pj.synop=.inf"]) == 2
    assert "energy_pj.synop: got inf" in capsys.readouterr().err


def test_shipped_specs_are_within_the_limits():
    for path in sorted(SPECS.glob("*.yaml")):
        arch = load_arch(path)
        if isinstance(arch, ChipArch):
            assert arch.max_packet_cycles <= limits.MAX_EVENT_CYCLES
            assert arch.barrier_cycles <= limits.MAX_EVENT_CYCLES


def test_long_keys_are_shortened(tmp_path):
    """A 10,000-character key still gives a short line."""
    key = "k" * 10_000
    msg = _one_line_error(lambda: load_arch(_write(tmp_path, {**TINY_ARCH, key: 1})))
    assert "unknown key" in msg
    text = f"{key[:1000]}: 1\n{key[:1000]}: 2\n"  # YAML's implicit keys are at most 1024 characters
    assert "duplicate key" in _one_line_error(lambda: load_arch(_write(tmp_path, text)))
    assert "not a section" in _one_line_error(lambda: load_arch(_write(tmp_path, TINY_ARCH), [f"{key}.x=1"]))


@pytest.mark.parametrize("axis, values, expected", [
    ("clock_hz", [float("inf")], "clock_hz: got inf"),
    ("noc.flit_bits", [True], "noc.flit_bits: got True"),
    ("barrier.base_cycles", [2**62], "barrier.base_cycles: got 4611686018427387904"),
])
def test_sweep_axes_get_the_same_checks(tmp_path, axis, values, expected):
    """A sweep axis value is checked by the architecture's strict types before anything runs."""
    from neurosim.sweep import load_sweep

    _write(tmp_path, TINY_ARCH, "tiny.yaml")
    spec = {"version": 1, "arch": "tiny.yaml", "axes": {"grid": {axis: values}}, "options": {"tokens": 4},
            "traces": [{"synthetic": {"hidden_sizes": [8], "input_size": 4, "tokens": 4}}]}
    assert expected in _one_line_error(lambda: load_sweep(spec, root=tmp_path))


def test_long_file_names_are_shortened(tmp_path):
    """A very long path keeps its end (the file name) and the line stays short."""
    deep = tmp_path / ("d" * 200)
    deep.mkdir()
    msg = _one_line_error(lambda: load_arch(deep / "missing.yaml"))
    assert msg.startswith("...") and msg.endswith("/missing.yaml: no such file")


def test_route_records_that_cannot_pack_are_refused(tmp_path):
    """A chip whose link ids, latencies and core ids cannot share one int64 fails at validation, not at run time."""
    spec = _write(tmp_path, TINY_ARCH)
    big = ["noc.mesh_x=1024", "noc.mesh_y=1024", "cores.count=16777216", "cores.cores_per_router=16",
           "noc.hop_x_latency_cycles=1048576"]
    assert "allowed: <= ROUTE_RECORD_BITS = 63" in _one_line_error(lambda: load_arch(spec, big))


def test_route_record_bits_bound_the_engine_packing():
    """``ChipArch.route_record_bits`` is at least what the engine packs for the chip."""
    from conftest import make_arch

    from neurosim.engine import build_arrays
    from neurosim.engine import layout as K
    from neurosim.mapping import map_network
    from neurosim.network import build_network
    from neurosim.trace import synthetic

    arch = make_arch(noc__hop_y_latency_cycles=1000)
    network = build_network(synthetic([20, 14], input_size=8, activity=0.3, weight_sparsity=0.5, tokens=4, seed=3))
    arrays = build_arrays(network, map_network(network, arch, min_cores=4), arch)
    engine_bits = int(arrays.params[K.P_DST_SHIFT]) + max(1, arch.cores.count.bit_length())
    assert engine_bits <= arch.route_record_bits


def test_api_overrides_of_the_wrong_shape(tmp_path):
    """Overrides from the API: a lone string works; a non-string key path is a SpecError."""
    spec = _write(tmp_path, TINY_ARCH)
    assert load_arch(spec, "noc.flit_bits=8").noc.flit_bits == 8
    assert "allowed: a key path" in _one_line_error(lambda: load_arch(spec, {3: 1}))
    assert "allowed: a string key.path=value" in _one_line_error(lambda: load_arch(spec, [("noc", "flit_bits")]))
