"""Model and training side of neurosim (needs the ``train`` extra: torch, tqdm).

Importing this package does not import torch; import the submodules
(``egru``, ``lstm``, ``lm``, ``data``, ``pruning``, ``train``, ``export``) for that.
"""
