"""Design-space sweeps: many (architecture x trace) points, run in parallel, resumable.

A sweep spec (YAML, see ``docs/sweeps.md``) names base architectures, traces
(files or synthetic generators) and axes over architecture key paths. Stages:

    spec -> points -> groups (same simulation) -> tasks -> rows -> parquet
    (spec.py)  (plan.py)                      (runners.py)     (store.py)

Points that differ only in energy constants (``energy_pj.*``,
``static_power_w``) form one group: the group is simulated once and the other
points are re-costed from its action counts (``recosted`` is True in their
rows). Finished rows are written as parquet part files next to the output
(``OUT.parts/``) while the sweep runs and consolidated into ``OUT`` at the end,
so an interrupted sweep loses nothing and a rerun skips points already done.

Examples
--------
>>> df = sweep("examples/sweep_small.yaml", "results.parquet", workers=2)  # doctest: +SKIP
"""

from neurosim.sweep.plan import ENERGY_KEYS, Point, Sweep, groups, is_energy_key, load_sweep
from neurosim.sweep.recost import recost_table as recost
from neurosim.sweep.runners import SweepInterrupted, SweepLocked, arch_signature, run_group, sweep
from neurosim.sweep.spec import SWEEP_VERSION, SweepSpec
from neurosim.sweep.store import STATUS_ERROR, STATUS_OK, TIMING_COLUMNS, consolidate, parts_dir, read_results

__all__ = [
    "ENERGY_KEYS",
    "STATUS_ERROR",
    "STATUS_OK",
    "SWEEP_VERSION",
    "TIMING_COLUMNS",
    "Point",
    "Sweep",
    "SweepInterrupted",
    "SweepLocked",
    "SweepSpec",
    "arch_signature",
    "consolidate",
    "groups",
    "is_energy_key",
    "load_sweep",
    "parts_dir",
    "read_results",
    "recost",
    "run_group",
    "sweep",
]
