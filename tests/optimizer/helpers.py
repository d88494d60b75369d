"""Checks shared by the optimizer tests."""

from __future__ import annotations

import numpy as np

from optimizer.circuits import CircuitTree
from optimizer.model import FloatArray, Problem


def on_steps_and_min(problem: Problem, current_a: FloatArray) -> list[str]:
    """Currents that are neither 0 nor at least the minimum, or off the charger's steps."""
    found = []
    for i, charger in enumerate(problem.chargers):
        for t, value in enumerate(np.atleast_2d(current_a.T).T[i]):
            if value == 0:
                continue
            if value < charger.min_current_a:
                found.append(f"{charger.id} slot {t}: {value} below min {charger.min_current_a}")
            step = charger.current_step_a
            if step > 0 and abs(value / step - round(value / step)) > 1e-9:
                found.append(f"{charger.id} slot {t}: {value} off step {step}")
    return found


def slot0_rows_hold_exactly(problem: Problem, current_now_a: FloatArray) -> list[str]:
    """Slot-0 rows broken without any tolerance (rows zero cannot satisfy are skipped)."""
    tree = CircuitTree.build(problem)
    load = tree.rows @ current_now_a
    upper, lower = tree.rows_upper[:, 0], tree.rows_lower[:, 0]
    return [
        f"{tree.row_labels[r]}: {load[r]!r} outside [{lower[r]}, {upper[r]}]"
        for r in range(len(load))
        if (load[r] > upper[r] and upper[r] >= 0) or (load[r] < lower[r] <= 0)
    ]
