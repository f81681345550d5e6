"""Which units receive input at each token: a bitset kernel and its numpy twin.

A unit of layer ``l`` receives input for token ``t`` when a unit that reaches it
(a nonzero weight to any of its gates) sent: the layer's feed-forward source
at ``t`` (the always-active input units for layer 0) or the layer itself at
``t - 1``. Row 0 of a chunk has no earlier row, so its recurrent input counts
as none: the engine never updates row 0 unless it is token 0, which has none.

The kernel ORs one bitset row (``reach``: bit ``j`` set when the presynaptic
unit reaches unit ``j``) per active presynaptic unit, 64 units per word, so
its cost is the number of events x words per layer; the twin is a float32
matrix product.
"""

from __future__ import annotations

import numpy as np
from numba import njit

WORD_BITS = 64


def pack_reach(reach: np.ndarray) -> np.ndarray:
    """bool [n_pre, H] -> uint64 [n_pre, ceil(H / 64)], bit ``j % 64`` of word ``j // 64``."""
    n_pre, H = reach.shape
    words = -(-H // WORD_BITS)
    padded = np.zeros((n_pre, words * WORD_BITS), dtype=bool)
    padded[:, :H] = reach
    bits = np.packbits(padded.reshape(n_pre, words, WORD_BITS), axis=2, bitorder="little")
    return np.ascontiguousarray(bits).view(np.uint64).reshape(n_pre, words)


@njit(cache=True, nogil=True)
def mark_received(fired, source_col, source_reach, target_col, target_size, shift, always, out):
    """Set ``out[row, target_col + j]`` for every unit ``j`` of one layer that one source reaches.

    ``fired[row - shift, source_col + i]`` says whether source unit ``i`` sent (``shift`` 1 for the
    recurrent source, 0 for the feed-forward one); ``source_reach[i]`` is its bitset (:func:`pack_reach`);
    ``always`` (uint64 words) is ORed into every row (the dense input's reach, or zeros).
    """
    rows = fired.shape[0]
    n_src, words = source_reach.shape
    acc = np.empty(words, dtype=np.uint64)
    for row in range(rows):
        for w in range(words):
            acc[w] = always[w]
        if row >= shift:
            src = row - shift
            for i in range(n_src):
                if fired[src, source_col + i] != 0:
                    for w in range(words):
                        acc[w] |= source_reach[i, w]
        for j in range(target_size):
            if (acc[j >> 6] >> np.uint64(j & 63)) & np.uint64(1):
                out[row, target_col + j] = 1


def received_reference(layer_offsets: np.ndarray, masks: tuple, input_reach: np.ndarray,
                       fired: np.ndarray, inputs: np.ndarray | None = None) -> np.ndarray:
    """The numpy twin: uint8 [rows, n_layer_units] from float32 products of the events and the reach masks.

    ``masks[l]`` is ``(ff, rec)`` bool reach matrices (``ff`` None for layer 0 with the dense embedding,
    ``rec`` None for the readout); ``inputs`` the input units' events otherwise.
    """
    offs = layer_offsets - layer_offsets[0]
    rows = fired.shape[0]
    out = np.zeros((rows, int(offs[-1])), dtype=np.uint8)
    events = fired.astype(np.float32)
    for l, (ff, rec) in enumerate(masks):
        got = np.zeros((rows, int(offs[l + 1] - offs[l])), dtype=bool)
        if l == 0 and ff is None:
            got |= input_reach.astype(bool)[None, :]
        elif l == 0:
            got |= (inputs.astype(np.float32) @ ff.astype(np.float32)) > 0
        else:
            got |= (events[:, offs[l - 1]:offs[l]] @ ff.astype(np.float32)) > 0
        if rec is not None and rows > 1:
            got[1:] |= (events[:-1, offs[l]:offs[l + 1]] @ rec.astype(np.float32)) > 0
        out[:, offs[l]:offs[l + 1]] = got
    return out
