"""neurosim: cycle-level simulation and energy estimation of sparse RNNs on neuromorphic chips.

The pipeline, one stage per package: trace -> network -> mapping -> engine -> costing -> report.
Importing ``neurosim`` is cheap; the stages load when first used.

>>> import neurosim
>>> result = neurosim.run("loihi_like", "ptb_egru90", tokens=64)  # doctest: +SKIP
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("neurosim")  # pyproject.toml is the one source
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

_PUBLIC = {
    "run": "neurosim.api",
    "load_arch": "neurosim.arch",
    "Result": "neurosim.result",
    "load_trace": "neurosim.trace",
    "save_trace": "neurosim.trace",
    "synthetic": "neurosim.trace",
    "Trace": "neurosim.trace",
    "trace_from_arrays": "neurosim.trace",
    "record": "neurosim.interop.record",
}

__all__ = ["Result", "Trace", "__version__", "load_arch", "load_trace", "record", "run", "save_trace", "synthetic",
           "trace_from_arrays"]


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'neurosim' has no attribute {name!r}")
