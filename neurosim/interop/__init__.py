"""Other tools' models and formats in and out of neurosim.

- :mod:`~neurosim.interop.record`: :func:`record`, a trace from a PyTorch module by forward hooks;
- :mod:`~neurosim.interop.nir`: :func:`trace_from_nir`, a trace from a NIR graph and recorded spikes;
- :mod:`~neurosim.interop.neurobench`: :func:`neurobench_metrics`, the NeuroBench 2.x metrics of a trace or run.

Each module imports its optional package (torch, nir) only when called.
"""
