"""Re-costing a results table on another energy table, without re-simulating (through :mod:`neurosim.costing`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from neurosim.api import target_of
from neurosim.costing import energy_per_token
from neurosim.costing.chip import recost_layers
from neurosim.spec import SpecError, parse_override
from neurosim.sweep.plan import ENERGY_KEYS, _scalar
from neurosim.sweep.runners import arch_signature
from neurosim.sweep.store import STATUS_OK


def recost_table(df: pd.DataFrame, arch_path: str | Path, overrides: list[str] | dict | None = None) -> pd.DataFrame:
    """Re-cost the ``ok`` rows of a results table on another energy table, without re-simulating.

    ``arch_path`` (with ``overrides``) may differ from the rows' architectures
    only in ``energy_pj.*``, ``static_power_w``, ``name`` and ``description``;
    rows simulated on a different architecture raise :class:`SpecError`.
    Returns a copy with the energy columns recomputed and ``recosted`` True.

    Examples
    --------
    >>> cheap = recost(df, "loihi_like", ["energy_pj.synop=10"])  # doctest: +SKIP
    """
    from neurosim.arch import load_arch

    arch = load_arch(arch_path, overrides)
    if target_of(arch) != "chip":
        raise SpecError(f"{Path(arch_path).name}: kind {arch.kind}; re-costing needs a neuromorphic architecture")
    out = df.copy()
    ok = (out["status"] == STATUS_OK).to_numpy() if "status" in out else np.ones(len(out), bool)
    if "arch_sig" in out:
        sig = arch_signature(arch)
        bad = ok & (out["arch_sig"].to_numpy() != sig)
        if bad.any():
            raise SpecError(
                f"{Path(arch_path).name}: differs from {int(bad.sum())} row(s)' architecture in keys other than "
                f"{list(ENERGY_KEYS)}; those rows need a new simulation, not a re-costing"
            )
    count_cols = [c for c in out.columns if c.startswith("counts.")]
    col = out.columns.get_loc
    for i in np.flatnonzero(ok):
        counts = {c[len("counts."):]: float(out.iat[i, col(c)]) for c in count_cols}
        windows, window_tokens = None, None
        if "ci95_low.energy_pj_per_token" in out and isinstance(out.iat[i, col("meta.sample_window_counts")], str):
            windows = json.loads(out.iat[i, col("meta.sample_window_counts")])  # a sampled row: re-cost its windows
            window_tokens = int(out.iat[i, col("meta.sample_window_tokens")])
        e = energy_per_token(counts, float(out.iat[i, col("tokens")]), arch, windows, window_tokens)
        out.iloc[i, col("energy_pj_per_token")] = e.total_pj
        if "energy_j_per_token" in out:
            out.iloc[i, col("energy_j_per_token")] = e.total_pj * 1e-12
        for k, v in e.breakdown_pj.items():
            if f"energy_breakdown_pj_per_token.{k}" in out:
                out.iloc[i, col(f"energy_breakdown_pj_per_token.{k}")] = v
        if "power_w_mean" in out and np.isfinite(out.iat[i, col("power_w_mean")]):
            out.iloc[i, col("power_w_mean")] = e.total_pj * 1e-12 / float(out.iat[i, col("time_s_per_token")])
        if "power_w_peak" in out:  # needs the per-step counts, which a table does not keep
            out.iloc[i, col("power_w_peak")] = np.nan
        if "layers" in out and isinstance(out.iat[i, col("layers")], str):
            out.iloc[i, col("layers")] = json.dumps(recost_layers(json.loads(out.iat[i, col("layers")]), arch))
        if "meta.arch_spec" in out and isinstance(out.iat[i, col("meta.arch_spec")], str):
            out.iloc[i, col("meta.arch_spec")] = json.dumps(arch.model_dump(mode="json"))
        if e.interval_pj is not None:
            out.iloc[i, col("ci95_low.energy_pj_per_token")], out.iloc[i, col("ci95_high.energy_pj_per_token")] = (
                e.interval_pj)
    out.loc[ok, "arch"] = arch.name
    out.loc[ok, "recosted"] = True
    if overrides:
        items = overrides.items() if isinstance(overrides, dict) else (parse_override(o) for o in overrides)
        for parts, value in items:
            key = parts if isinstance(parts, str) else ".".join(parts)
            out.loc[ok, f"arch.{key}"] = _scalar(value)
    return out
