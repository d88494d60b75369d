"""Many replays at once: policies x capacities x tariffs, in parallel processes.

``--sweep capacity_kw=10:140:10`` (``start:stop:step``, stop included), ``--sweep
capacity_kw=50,100``, ``--sweep policy=edf,llf,lp-energy`` and ``--sweep tariff=a.toml,b.toml``
each give one axis; the runs are every combination (:func:`expand_runs`), in a fixed order.
:func:`run_jobs` runs them in a :class:`~concurrent.futures.ProcessPoolExecutor` (each worker
loads the site and sessions once) and returns the results in that same order, so a sweep's
table and files do not depend on which process finished first.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path

from ems.datasets import SessionRecord, load_sessions
from ems.replay.report import LabelledResult
from ems.replay.run import Progress, ReplayOptions, run_replay
from ems.replay.scenario import Policy, parse_policy
from ems.site import SiteConfig, load_site
from ems.tariffs import Tariff, load_tariff

SWEEP_KEYS = ("capacity_kw", "policy", "tariff")


@dataclass(frozen=True)
class Axes:
    """The values each sweep axis takes (a single value where nothing is swept)."""

    policies: tuple[Policy, ...]
    capacities_kw: tuple[float | None, ...] = (None,)
    tariffs: tuple[Path | None, ...] = (None,)


@dataclass(frozen=True)
class ReplayJob:
    """One run of a sweep, as plain data a worker process can take."""

    label: str
    site_path: Path
    session_paths: tuple[Path, ...]
    tariff_path: Path | None
    options: ReplayOptions


def parse_range(text: str) -> list[float]:
    """``"10:140:10"`` (stop included) or ``"50,100"`` as numbers; ValueError saying which."""
    text = text.strip()
    try:
        if ":" in text:
            parts = [float(p) for p in text.split(":")]
            if len(parts) != 3:
                raise ValueError
            start, stop, step = parts
            if step <= 0 or stop < start:
                raise ValueError
            count = math.floor((stop - start) / step + 1e-9) + 1
            return [round(start + k * step, 9) for k in range(count)]
        return [float(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise ValueError(
            f"{text!r}: give start:stop:step (e.g. 10:140:10, stop included) or a list 50,100"
        ) from None


def parse_sweeps(texts: Sequence[str], axes: Axes, base_dir: Path = Path()) -> Axes:
    """``axes`` with each ``KEY=VALUES`` of ``texts`` replacing that axis."""
    for text in texts:
        key, _, values = text.partition("=")
        key = key.strip()
        if key not in SWEEP_KEYS or not values.strip():
            raise ValueError(
                f"--sweep {text!r}: give KEY=VALUES with KEY one of {', '.join(SWEEP_KEYS)}"
            )
        if key == "capacity_kw":
            try:
                numbers = parse_range(values)
            except ValueError as error:
                raise ValueError(f"--sweep capacity_kw={error}") from None
            if any(n <= 0 for n in numbers):
                raise ValueError(f"--sweep capacity_kw={values}: capacities must be positive")
            axes = replace(axes, capacities_kw=tuple(numbers))
        elif key == "policy":
            axes = replace(axes, policies=parse_policies(values))
        else:
            paths = tuple(base_dir / v.strip() for v in values.split(",") if v.strip())
            axes = replace(axes, tariffs=paths)
    return axes


def parse_policies(text: str) -> tuple[Policy, ...]:
    """``"edf,llf,lp-energy"`` as policies; ValueError naming an unknown one."""
    policies = tuple(parse_policy(p) for p in text.split(",") if p.strip())
    if not policies:
        raise ValueError("give at least one policy")
    return policies


def expand_runs(
    axes: Axes,
    site_path: Path,
    session_paths: Sequence[Path],
    options: ReplayOptions,
) -> list[ReplayJob]:
    """Every combination of the axes as a job, labelled by what differs between them."""
    jobs = []
    for tariff, capacity, policy in itertools.product(
        axes.tariffs, axes.capacities_kw, axes.policies
    ):
        parts = [policy.value]
        if len(axes.capacities_kw) > 1 or capacity is not None:
            parts.append(f"{capacity:g} kW" if capacity is not None else "site capacity")
        if len(axes.tariffs) > 1 and tariff is not None:
            parts.append(tariff.stem)
        jobs.append(
            ReplayJob(
                label=" @ ".join(parts[:2]) + "".join(f" / {p}" for p in parts[2:]),
                site_path=site_path,
                session_paths=tuple(session_paths),
                tariff_path=tariff,
                options=replace(options, policy=policy, capacity_kw=capacity),
            )
        )
    return jobs


@functools.lru_cache(maxsize=4)
def _site(path: Path) -> SiteConfig:
    return load_site(path)


@functools.lru_cache(maxsize=4)
def _sessions(paths: tuple[Path, ...]) -> tuple[SessionRecord, ...]:
    return tuple(record for path in paths for record in load_sessions(path))


@functools.lru_cache(maxsize=8)
def _tariff(path: Path, timezone: str) -> Tariff:
    return load_tariff(path, default_timezone=timezone)


def run_job(job: ReplayJob, progress: Progress | None = None) -> LabelledResult:
    """Run one job (in this process); inputs are loaded once per process."""
    site = _site(job.site_path)
    options = job.options
    if job.tariff_path is not None:
        options = replace(options, tariff=_tariff(job.tariff_path, site.timezone))
    result = run_replay(site, _sessions(job.session_paths), options, progress=progress)
    return LabelledResult(job.label, result)


def run_jobs(
    jobs: Sequence[ReplayJob],
    workers: int | None = None,
    *,
    on_step: Progress | None = None,
    on_done: Callable[[int], None] | None = None,
) -> list[LabelledResult]:
    """Run ``jobs``, in ``workers`` processes when more than one; results in job order.

    A single worker runs them here one after the other and reports each one's progress to
    ``on_step`` (a fraction of the run); ``on_done`` gets the number of runs finished.
    """
    workers = default_workers(len(jobs)) if workers is None else max(1, workers)
    if workers == 1 or len(jobs) == 1:
        out = []
        for k, job in enumerate(jobs):
            out.append(run_job(job, on_step))
            if on_done is not None:
                on_done(k + 1)
        return out
    results: dict[int, LabelledResult] = {}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(run_job, job): k for k, job in enumerate(jobs)}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            if on_done is not None:
                on_done(len(results))
    return [results[k] for k in range(len(jobs))]


def default_workers(runs: int) -> int:
    """As many processes as there are CPUs and runs."""
    return max(1, min(runs, os.cpu_count() or 1))
