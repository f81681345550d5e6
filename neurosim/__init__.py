"""neurosim: cycle-level simulation and energy estimation of sparse RNNs on neuromorphic chips."""
