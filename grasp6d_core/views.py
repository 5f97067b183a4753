"""GraspNet's template approach views, defined once: the labels, the network's view head, the contact prior and
the judge's reference dumps all index the same 300 directions."""
from __future__ import annotations

import numpy as np

NUM_VIEWS = 300


def fibonacci_views(n: int = NUM_VIEWS) -> np.ndarray:
    """Unit view directions (n, 3) on a Fibonacci sphere, in graspnetAPI's order."""
    phi = (np.sqrt(5) - 1) / 2
    i = np.arange(n)
    z = (2 * i + 1) / n - 1
    r = np.sqrt(1 - z ** 2)
    return np.stack([r * np.cos(2 * np.pi * i * phi), r * np.sin(2 * np.pi * i * phi), z], axis=1)
