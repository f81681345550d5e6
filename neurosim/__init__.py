"""neurosim: cycle-level simulation and energy estimation of sparse RNNs on neuromorphic chips.

The pipeline, one stage per module: trace -> network -> mapping -> engine -> energy -> report.

>>> import neurosim
>>> result = neurosim.run("arch_specs/loihi_like.yaml", "traces/ptb_egru90.npz", tokens=64)  # doctest: +SKIP
"""

__version__ = "0.1.0"

from neurosim.api import run  # noqa: E402
from neurosim.arch import load_arch  # noqa: E402
from neurosim.result import Result  # noqa: E402
from neurosim.trace import load_trace, save_trace, synthetic  # noqa: E402

__all__ = ["run", "load_arch", "load_trace", "save_trace", "synthetic", "Result", "__version__"]
