"""Time intervals split over a grid or over period edges, and merged; pure numpy.

Times are float epoch seconds. An interval is ``[lo, hi)``; a zero-length one (``lo == hi``) is
an instant and falls wholly into the bucket or period that contains it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Pieces:
    """The parts of intervals: ``row`` (which interval), ``part`` (which bucket or period),
    ``overlap_s`` (seconds of the interval in it) and ``share`` (that as a share of the
    interval: 1 for an instant)."""

    row: IntArray
    part: IntArray
    overlap_s: FloatArray
    share: FloatArray


def _pieces(
    lo: FloatArray,
    hi: FloatArray,
    first: IntArray,
    last: IntArray,
    part_lo: FloatArray,
    part_hi: FloatArray,
) -> Pieces:
    """Common part of the splits: every interval i covers parts first[i]..last[i]."""
    counts = np.maximum(last - first + 1, 0)
    row = np.repeat(np.arange(len(lo), dtype=np.int64), counts)
    offsets = np.cumsum(counts) - counts
    part = first[row] + (np.arange(len(row), dtype=np.int64) - offsets[row])
    left = np.maximum(lo[row], part_lo[part])
    right = np.minimum(hi[row], part_hi[part])
    overlap = np.clip(right - left, 0.0, None)
    duration = hi[row] - lo[row]
    share = np.divide(overlap, duration, out=np.ones_like(overlap), where=duration > 0)
    return Pieces(row, part, overlap, share)


def split_on_grid(lo: ArrayLike, hi: ArrayLike, step_s: float) -> Pieces:
    """Split intervals over the regular grid ``[k * step_s, (k + 1) * step_s)``; ``part`` is k.

    Time and energy spread evenly over an interval, so a part's share of an interval's energy
    is its share of the interval's time.
    """
    lo_a, hi_a = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    if np.any(hi_a < lo_a):
        raise ValueError("an interval ends before it starts")
    if lo_a.size == 0:
        empty_i, empty_f = np.zeros(0, np.int64), np.zeros(0)
        return Pieces(empty_i, empty_i, empty_f, empty_f)
    first = np.floor(lo_a / step_s).astype(np.int64)
    # an interval that ends exactly on a grid line does not reach into the next cell
    last = np.where(hi_a > lo_a, np.ceil(hi_a / step_s).astype(np.int64) - 1, first)
    base = int(first.min())
    cells = np.arange(base, int(last.max()) + 2, dtype=np.int64)
    edges = cells.astype(np.float64) * float(step_s)
    pieces = _pieces(lo_a, hi_a, first - base, last - base, edges[:-1], edges[1:])
    return Pieces(pieces.row, pieces.part + base, pieces.overlap_s, pieces.share)


def split_on_edges(lo: ArrayLike, hi: ArrayLike, edges: ArrayLike) -> Pieces:
    """Split intervals over consecutive periods ``[edges[k], edges[k + 1])``; ``part`` is k.

    Parts of intervals outside ``[edges[0], edges[-1])`` are dropped, and so are instants.
    """
    lo_a, hi_a = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    edge_a = np.asarray(edges, dtype=float)
    if edge_a.size < 2 or np.any(np.diff(edge_a) <= 0):
        raise ValueError("need at least two increasing period edges")
    periods = edge_a.size - 1
    lo_c, hi_c = np.clip(lo_a, edge_a[0], edge_a[-1]), np.clip(hi_a, edge_a[0], edge_a[-1])
    first = np.clip(np.searchsorted(edge_a, lo_c, side="right") - 1, 0, periods - 1)
    last = np.clip(np.searchsorted(edge_a, hi_c, side="left") - 1, 0, periods - 1)
    inside = (hi_a > edge_a[0]) & (lo_a < edge_a[-1]) & (hi_a > lo_a)
    last = np.where(inside, np.maximum(last, first), first - 1)
    pieces = _pieces(
        lo_a, hi_a, first.astype(np.int64), last.astype(np.int64), edge_a[:-1], edge_a[1:]
    )
    keep = pieces.overlap_s > 0
    return Pieces(pieces.row[keep], pieces.part[keep], pieces.overlap_s[keep], pieces.share[keep])


def merge(lo: ArrayLike, hi: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """The union of intervals as sorted, disjoint intervals (touching ones joined)."""
    lo_a, hi_a = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    keep = hi_a > lo_a
    lo_a, hi_a = lo_a[keep], hi_a[keep]
    if lo_a.size == 0:
        return lo_a, hi_a
    order = np.argsort(lo_a, kind="stable")
    lo_a, hi_a = lo_a[order], hi_a[order]
    reach = np.maximum.accumulate(hi_a)
    starts_new = np.ones(lo_a.size, dtype=bool)
    starts_new[1:] = lo_a[1:] > reach[:-1]
    group_ends = np.append(np.flatnonzero(starts_new)[1:] - 1, lo_a.size - 1)
    return lo_a[starts_new], reach[group_ends]
