"""neurosim: cycle-level simulation and energy estimation of sparse RNNs on neuromorphic chips.

The pipeline, one stage per module: trace -> network -> mapping -> engine -> energy -> report.

>>> import neurosim
>>> result = neurosim.run("arch_specs/loihi_like.yaml", "traces/ptb_egru90.npz", tokens=64)  # doctest: +SKIP
"""

__version__ = "0.1.0"

from neurosim.api import run
from neurosim.arch import load_arch
from neurosim.result import Result
from neurosim.trace import load_trace, save_trace, synthetic

__all__ = ["Result", "__version__", "load_arch", "load_trace", "run", "save_trace", "synthetic"]
