"""A uniform sample of a stream of rows, for statistics (quantiles, tree bins) learned in one pass."""

import numpy as np

# Quantiles and bins are estimated from a uniform sample of at most this many rows.
RESERVOIR_SIZE = 200_000


def reservoir_accumulator(seed=0):
    return {"sample": None, "seen": 0, "rng": np.random.default_rng(seed)}


def reservoir_update(accumulator, rows, size=RESERVOIR_SIZE):
    """Adds ``rows`` (``[n]`` or ``[n, k]``) to the sample: Algorithm R, batched, so every row seen is equally likely kept."""
    rows = np.asarray(rows)
    sample, seen, rng = accumulator["sample"], accumulator["seen"], accumulator["rng"]
    if sample is None:
        sample = rows[:0]
    room = max(0, size - len(sample))
    if room:  # once full, the sample is changed in place: a copy of it for every batch took 6.7 s of census x100's pass
        sample = np.concatenate([sample, rows[:room]])
    rest = rows[room:]
    if len(rest):
        positions = rng.integers(0, seen + room + np.arange(1, len(rest) + 1))
        keep = positions < size
        sample[positions[keep]] = rest[keep]
    accumulator["sample"], accumulator["seen"] = sample, seen + len(rows)
