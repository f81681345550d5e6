"""Property-based fuzzing of the shipped specs: every mutation loads within the limits or fails in one line.

Mutations of ``arch_specs/*.yaml`` (their ``base:`` resolved): deleted keys, values swapped for
bools, strings, lists, mappings, None, huge or negative integers, inf, nan, tiny and huge floats,
and duplicated keys. Either :func:`~neurosim.arch.load_arch` raises :class:`SpecError` with one
short line naming a mutated key, or the spec loads and every value is within
:mod:`neurosim.limits`; a loaded chip then runs on a tiny trace to a checked Result.
"""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path

import pytest
import yaml
from conftest import TINY_ARCH
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neurosim
from neurosim import limits
from neurosim.arch import ChipArch, load_arch
from neurosim.spec import SpecError, load_with_base
from neurosim.trace import synthetic

SPECS = sorted((Path(__file__).resolve().parents[1] / "arch_specs").glob("*.yaml"))
BASES = {p.name: load_with_base(p) for p in SPECS}

SPECIAL_INTS = [0, 1, -1, 2**31 - 1, 2**31, 2**31 + 1, 2**53, 2**62, 2**63, 2**64, 10**30, -(2**63)]
SPECIAL_FLOATS = [math.inf, -math.inf, math.nan, -1.5, 0.0, 1e-300, 1e-12, 1e-6, 1e300, 1.7976931348623157e308]
VALUES = st.one_of(
    st.booleans(),
    st.none(),
    st.sampled_from(["64", "1.5", "", "fast", "x" * 300, ".inf", "0x10", "true"]),
    st.sampled_from([[1], [], {}, {"a": 1}]),
    st.sampled_from(SPECIAL_INTS),
    st.sampled_from(SPECIAL_FLOATS),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
)


def _paths(node, prefix=()):
    """Every key path of a nested mapping, sections included."""
    for key, value in node.items():
        yield (*prefix, key)
        if isinstance(value, dict):
            yield from _paths(value, (*prefix, key))


def _parent(data, path):
    node = data
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            return None
    return node


@st.composite
def mutated_specs(draw):
    """(spec file name, YAML text, mutated key names, ops)."""
    name = draw(st.sampled_from(sorted(BASES)))
    data = copy.deepcopy(BASES[name])
    keys, ops, duplicate = [], [], False
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(_paths(data)) or [("version",)]))
        parent = _parent(data, path)
        if parent is None or path[-1] not in parent:
            continue
        op = draw(st.sampled_from(["delete", "swap", "swap", "swap", "duplicate"]))
        if op == "delete":
            del parent[path[-1]]
        elif op == "swap":
            parent[path[-1]] = copy.deepcopy(draw(VALUES))  # no shared objects: no anchors, no cycles
        else:
            duplicate = True
        keys.append(str(path[-1]))
        ops.append((op, ".".join(map(str, path))))
    text = yaml.safe_dump(data, sort_keys=False, width=10**9, allow_unicode=True)
    if duplicate:
        lines = text.splitlines(keepends=True)
        keyed = [i for i, line in enumerate(lines) if re.match(r"^ *[A-Za-z_][A-Za-z0-9_]*:( |$)", line)]
        i = draw(st.sampled_from(keyed))
        indent = len(lines[i]) - len(lines[i].lstrip(" "))
        end = i + 1  # a section's copy goes after its block, a value's right after it
        while end < len(lines) and (len(lines[end]) - len(lines[end].lstrip(" ")) > indent
                                    or lines[end].startswith(" " * indent + "- ")):
            end += 1
        header = lines[i].rstrip().endswith(":")
        lines.insert(end, lines[i].split(":")[0] + ": 1\n" if header else lines[i])
        keys.append(lines[i].split(":")[0].strip())
        ops.append(("duplicate-line", lines[i].strip()))
        text = "".join(lines)
    return name, text, keys, ops


def _numbers(node, path=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _numbers(v, f"{path}.{k}" if path else str(k))
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from _numbers(v, f"{path}.{i}")
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield path, node


def assert_within_limits(arch) -> None:
    """Every number finite and within its limit; the joint engine limits hold."""
    for path, value in _numbers(arch.model_dump()):
        assert math.isfinite(value), path
        assert value >= 0, path
        assert value <= max(limits.MAX_SPEC_INT, limits.MAX_RATE_PER_S, limits.MAX_SPEC_FLOAT), path
    if isinstance(arch, ChipArch):
        c, n = arch.cores, arch.noc
        for v in (c.synapse_overhead_cycles, c.neuron_update_cycles_active, c.neuron_update_cycles_inactive,
                  arch.barrier.base_cycles, arch.barrier.per_router_cycles, arch.barrier_cycles,
                  arch.max_packet_cycles):
            assert 0 <= v <= limits.MAX_EVENT_CYCLES
        for v in (n.hop_x_latency_cycles, n.hop_y_latency_cycles, n.local_latency_cycles):
            assert 0 <= v <= limits.MAX_LINK_LATENCY_CYCLES
        assert limits.MIN_SYNOPS_PER_CYCLE <= c.synops_per_cycle <= limits.MAX_SYNOPS_PER_CYCLE
        assert n.packet_header_bits + n.payload_bits >= 1 and 1 <= n.flits_per_packet <= 2 * limits.MAX_RECORD_BITS
        assert c.index_bits == 0 or 2**c.index_bits >= c.neurons_per_core
        assert arch.n_routers <= limits.MAX_ROUTERS and c.count <= limits.MAX_CORES
        assert arch.route_record_bits <= limits.ROUTE_RECORD_BITS
        assert c.neurons_per_core * max(c.neuron_update_cycles_active, c.neuron_update_cycles_inactive) < 2**63
        assert limits.MIN_CLOCK_HZ <= arch.clock_hz <= limits.MAX_CLOCK_HZ
    else:
        for rate in (arch.memory.hbm_bandwidth_bytes_per_s, arch.memory.l2_bandwidth_bytes_per_s,
                     *arch.peak_flops.values(), *arch.peak_simt_flops.values()):
            assert limits.MIN_RATE_PER_S <= rate <= limits.MAX_RATE_PER_S
        for frac in (arch.efficiency.compute, arch.efficiency.hbm, arch.efficiency.sram):
            assert limits.MIN_FRACTION <= frac <= 1.0


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """One folder for the module's spec files (a module fixture: Hypothesis reruns examples in it)."""
    return tmp_path_factory.mktemp("fuzz")


def _load(work: Path, name: str, text: str):
    path = work / name
    path.write_text(text)
    return load_arch(path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_specs())
def test_mutated_spec_loads_within_limits_or_fails_in_one_line(work, case):
    """A mutated shipped spec either loads within the limits or fails with one short line naming a mutated key."""
    name, text, keys, ops = case
    try:
        arch = _load(work, name, text)
    except SpecError as exc:
        msg = str(exc)
        assert "\n" not in msg and len(msg) <= 300, (ops, msg)
        kind_gone = ("delete", "kind") in ops
        assert any(k in msg for k in keys) or (kind_gone and "unknown key" in msg), (ops, msg)
        return
    assert_within_limits(arch)


@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_unmutated_specs_are_within_limits(path):
    assert_within_limits(load_arch(path))


CYCLE_KEYS = ["barrier.base_cycles", "barrier.per_router_cycles", "cores.synapse_overhead_cycles",
              "cores.neuron_update_cycles_active", "cores.neuron_update_cycles_inactive", "noc.hop_x_latency_cycles",
              "noc.hop_y_latency_cycles", "noc.local_latency_cycles", "cores.synops_per_cycle",
              "noc.packet_header_bits", "noc.payload_bits", "noc.flit_bits", "clock_hz", "energy_pj.synop",
              "static_power_w"]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(CYCLE_KEYS), st.one_of(st.sampled_from(SPECIAL_INTS + SPECIAL_FLOATS),
                                                             st.integers(0, 2**32)), min_size=1, max_size=4))
def test_a_spec_that_loads_runs_to_a_checked_result(work, overrides):
    """Extreme values that pass validation never overflow the engine: the run gives a finite, non-negative Result."""
    data = copy.deepcopy(TINY_ARCH)
    for key, value in overrides.items():
        section, _, leaf = key.rpartition(".")
        (data[section] if section else data)[leaf] = value
    try:
        arch = _load(work, "run.yaml", yaml.safe_dump(data))
    except SpecError as exc:
        assert "\n" not in str(exc)
        return
    trace = synthetic([12, 8], input_size=6, activity=0.4, weight_sparsity=0.5, tokens=3, seed=1)
    result = neurosim.run(arch, trace)  # the Result guard raises on NaN, inf or negative figures
    assert result.cycles_per_token >= 0 and math.isfinite(result.energy_pj_per_token)
