"""The path back through a DTW trace: one walk for the numpy DTW and the Triton one.

They store the trace in different layouts (the kernel keeps one row per anti-diagonal), so
the walk takes the step at a cell through ``step_at(i, j)``. No torch and no triton here.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def dtw_backtrace(
    step_at: Callable[[int, int], int], n: int, m: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the path from (n, m) to the start; steps: 0 diagonal, 1 from the
    row above (next token, same frame), 2 from the left."""
    i, j = n, m
    path: list[tuple[int, int]] = []
    while i > 0 and j > 0:
        path.append((i - 1, j - 1))
        step = step_at(i, j)
        if step == 0:
            i, j = i - 1, j - 1
        elif step == 1:
            i -= 1
        else:
            j -= 1
    path.reverse()
    rows, cols = np.array(path).T if path else (np.zeros(0, int), np.zeros(0, int))
    return rows, cols
