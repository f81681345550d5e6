"""Architecture specs: shipped files load, bad specs fail with the key path and what is allowed."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from conftest import TINY_ARCH

from neurosim.arch import load_arch
from neurosim.spec import SpecError

SPECS = sorted((Path(__file__).parent.parent / "arch_specs").glob("*.yaml"))


def _write(tmp_path, data, name="a.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_shipped_specs_load(path):
    """Every shipped architecture validates."""
    assert load_arch(path).name


def test_tiny_spec_loads(tmp_path):
    arch = load_arch(_write(tmp_path, TINY_ARCH))
    assert arch.kind == "neuromorphic" and arch.cores.synapse_format == "sparse"  # the defaults
    assert arch.noc.flits_per_packet == 2
    assert arch.barrier_cycles == 5 + 1 * 4


@pytest.mark.parametrize(
    "change, expected",
    [
        (("cores", "neuron_per_core", 5), "cores.neuron_per_core: got 5; unknown key; allowed keys:"),
        (("cores", "count", "many"), "cores.count: got 'many'"),
        (("cores", "count", 0), "cores.count: got 0; Input should be greater than or equal to 1"),
        (("cores", "synapse_format", "csr5"), "cores.synapse_format: got 'csr5'"),
        (("noc", "multicast", "flood"), "noc.multicast: got 'flood'"),
        (("energy_pj", "synop", -1.0), "energy_pj.synop: got -1.0"),
        (("cores", "count", 100), "exceeds noc.mesh_x*noc.mesh_y*cores.cores_per_router=8"),
    ],
)
def test_bad_values_name_the_key_path(tmp_path, change, expected):
    """Unknown keys, wrong types and impossible values name the key path, the value and what is allowed."""
    data = copy.deepcopy(TINY_ARCH)
    section, key, value = change
    data[section][key] = value
    with pytest.raises(SpecError) as err:
        load_arch(_write(tmp_path, data))
    assert expected in str(err.value)


def test_unknown_top_level_key_lists_allowed(tmp_path):
    data = {**TINY_ARCH, "clock_mhz": 5}
    with pytest.raises(SpecError, match=r"clock_mhz: got 5; unknown key; allowed keys: .*clock_hz.*did you mean 'clock_hz'"):
        load_arch(_write(tmp_path, data))


def test_version_is_checked_first(tmp_path):
    with pytest.raises(SpecError, match="version: got 2; allowed: 1"):
        load_arch(_write(tmp_path, {**TINY_ARCH, "version": 2, "cores": "garbage"}))


def test_base_inheritance_and_overrides(tmp_path):
    """A child spec overrides only what it names; --set overrides win over both."""
    _write(tmp_path, TINY_ARCH, "base.yaml")
    child = _write(tmp_path, {"base": "base.yaml", "name": "child", "energy_pj": {"synop": 9.0}}, "child.yaml")
    arch = load_arch(child, ["noc.hop_x_latency_cycles=7", "energy_pj.barrier=1.5"])
    assert arch.name == "child"
    assert arch.energy_pj.synop == 9.0
    assert arch.energy_pj.neuron_update_active == TINY_ARCH["energy_pj"]["neuron_update_active"]
    assert arch.noc.hop_x_latency_cycles == 7
    assert arch.energy_pj.barrier == 1.5


def test_bad_override_path_is_named(tmp_path):
    path = _write(tmp_path, TINY_ARCH)
    with pytest.raises(SpecError, match="nocc: not a section"):
        load_arch(path, ["nocc.hop_x_latency_cycles=7"])
    with pytest.raises(SpecError, match="noc.hop_z_latency_cycles: got 7; unknown key"):
        load_arch(path, ["noc.hop_z_latency_cycles=7"])
    with pytest.raises(SpecError, match="key.path=value"):
        load_arch(path, ["noc.hop_x_latency_cycles"])


def test_circular_base_is_an_error(tmp_path):
    _write(tmp_path, {"base": "b.yaml"}, "a.yaml")
    _write(tmp_path, {"base": "a.yaml"}, "b.yaml")
    with pytest.raises(SpecError, match="circular"):
        load_arch(tmp_path / "a.yaml")
