"""Statistics per charger and per site, per calendar period, from what the chargers reported.

Definitions (every figure of a period ``[start, end)``; times are UTC inside, periods local):

Energy
    The energy-register readings of a transaction (``meterStart``, the periodic
    ``Energy.Active.Import.Register`` samples, ``meterStop``) are joined by straight lines, as a
    bill does (:mod:`ems.tariffs.cost`): the energy between two readings is spread evenly over
    the time between them. A period gets the energy of the time that falls in it (**pro rata by
    time**), so a session charging across midnight counts in both days. Rises of the register
    only; energy outside transactions is not counted.
Charging time
    Time between two readings whose mean power is at least
    :data:`~ems.stats.queries.CHARGING_THRESHOLD_W`, split by time like energy.
Plugged-in time
    Time a car occupies the EVSE: the union of its transactions (start to stop, a running one
    to now) and of the times its connectors' status was Preparing, Charging, SuspendedEV,
    SuspendedEVSE, Finishing or Occupied (a 1.6 car waiting before authorization counts).
    Split by time. ``idle_h`` is plugged-in time not charging.
Utilization
    ``occupancy_pct`` = plugged-in time / (chargers x the period's elapsed time), and
    ``charging_pct`` the same for charging time. Elapsed time stops at now, so the current
    month is not diluted by its future.
Sessions
    A session belongs to the period it **started** in (it is counted once): ``sessions``,
    ``mean_session_duration_h`` and ``mean_session_energy_kwh`` (means over the sessions that
    started in the period and have ended; a session's energy is its whole energy), ``revenue``,
    ``requested_kwh`` and ``unmet_kwh``.
Peak power
    The highest 15-minute mean power (energy of a quarter hour x 4), per charger and for the
    site's chargers together (the quarter hour's sum, not the sum of the chargers' peaks): the
    basis of demand charges. ``peak_measured_kw`` is the highest site power the control loop
    measured (site scopes only).
Money
    ``energy_cost``: each quarter hour's energy at the tariff's import price of that quarter
    hour (split by time). ``revenue``: what the driver pays under the tariff
    (:meth:`ems.tariffs.Tariff.session_cost`, subtotal excluding tax; a running session's cost
    so far). Revenue uses the readings the database reduced to the quarter hours' edges: exact
    for energy priced by the quarter hour; idle fees may be off by up to a reading interval.
Unmet energy
    For sessions that have ended and whose driver stated the energy they need:
    ``max(0, requested - delivered)``; ``sessions_with_need`` says how many sessions that covers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from ems.domain import ConnectorStatus
from ems.stats.intervals import merge, split_on_edges, split_on_grid
from ems.stats.periods import BUCKET_S, Period, PeriodSpan, check_range, period_spans
from ems.stats.queries import (
    CHARGING_THRESHOLD_W,
    Window,
    read_cycle_peaks,
    read_needs,
    read_register,
    read_status,
    read_transactions,
)
from ems.stats.scope import StatsScope
from ems.tariffs import Tariff

log = logging.getLogger(__name__)

OCCUPIED_STATUSES = frozenset(
    str(s)
    for s in (
        ConnectorStatus.PREPARING,
        ConnectorStatus.CHARGING,
        ConnectorStatus.SUSPENDED_EV,
        ConnectorStatus.SUSPENDED_EVSE,
        ConnectorStatus.FINISHING,
        ConnectorStatus.OCCUPIED,
    )
)
_HOUR_S = 3600.0
_BUCKETS_PER_HOUR = _HOUR_S / BUCKET_S

#: The figures of a period, in the order of the tables and exports.
METRICS = (
    "sessions",
    "energy_kwh",
    "plugged_in_h",
    "charging_h",
    "idle_h",
    "occupancy_pct",
    "charging_pct",
    "mean_session_duration_h",
    "mean_session_energy_kwh",
    "peak_power_kw",
    "energy_cost",
    "revenue",
    "requested_kwh",
    "unmet_kwh",
    "sessions_with_need",
)
#: What each figure is, with its unit (the API's field descriptions, the reports' legends).
DESCRIPTIONS = {
    "sessions": "Sessions that started in the period",
    "energy_kwh": "Energy delivered in the period, pro rata by time [kWh]",
    "plugged_in_h": "Time cars were plugged in [h]",
    "charging_h": "Time cars were charging (mean power >= 100 W) [h]",
    "idle_h": "Time plugged in but not charging [h]",
    "occupancy_pct": "Plugged-in time / (chargers x elapsed time of the period) [%]",
    "charging_pct": "Charging time / (chargers x elapsed time of the period) [%]",
    "mean_session_duration_h": "Mean duration of the sessions that started and ended [h]",
    "mean_session_energy_kwh": "Mean energy of the sessions that started and ended [kWh]",
    "peak_power_kw": "Highest 15-minute mean power [kW]",
    "energy_cost": "Energy at the tariff's import prices, per quarter hour [currency]",
    "revenue": "What drivers pay under the tariff, excluding tax, by session start [currency]",
    "requested_kwh": "Energy drivers asked for, ended sessions with a stated need [kWh]",
    "unmet_kwh": "Energy asked for but not delivered, ended sessions [kWh]",
    "sessions_with_need": "Ended sessions whose driver stated the energy needed",
    "chargers": "Chargers in the scope",
    "peak_measured_kw": "Highest site power the control loop measured [kW]",
}
CHARGER_COLUMNS = ("charger", "charge_point_id", "evse_id", "period", "start", "end", *METRICS)
SITE_COLUMNS = ("period", "start", "end", "chargers", *METRICS, "peak_measured_kw")
_SUMS = (
    "sessions",
    "energy_wh",
    "plugged_in_s",
    "charging_s",
    "finished",
    "duration_s",
    "finished_energy_wh",
    "energy_cost",
    "revenue",
    "requested_kwh",
    "unmet_kwh",
    "sessions_with_need",
)


@dataclass(frozen=True)
class Stats:
    """Statistics of one scope over ``[start, end)`` broken down by ``period``.

    ``chargers``: one row per charger and period (:data:`CHARGER_COLUMNS`); ``site``: one row
    per period for the scope's chargers together (:data:`SITE_COLUMNS`); ``charger_totals`` and
    ``total``: the same over the whole range (``period`` = "total"). ``start``/``end`` columns
    are aware UTC; ``period`` is the local label. Money is in ``currency``.
    """

    scope: StatsScope
    start: datetime
    end: datetime
    period: Period
    now: datetime
    spans: tuple[PeriodSpan, ...]
    chargers: pd.DataFrame
    site: pd.DataFrame
    charger_totals: pd.DataFrame
    total: pd.DataFrame

    @property
    def currency(self) -> str | None:
        return self.scope.currency


def compute_stats(
    engine: Engine,
    scope: StatsScope,
    start: datetime,
    end: datetime,
    period: Period,
    now: datetime,
) -> Stats:
    """Read what ``scope`` needs for ``[start, end)`` and compute its statistics.

    ``start``/``end`` must be aware and on the quarter hour (ValueError naming ``from``/``to``
    otherwise); ``now`` ends running sessions and open statuses.
    """
    check_range(start, end)
    if now.tzinfo is None:
        raise ValueError("now: must be timezone-aware")
    window = Window(start, end, scope.charge_point_ids, scope.site_id)
    with engine.connect() as connection:
        transactions = read_transactions(connection, window)
        inside, edges = read_register(connection, window)
        status = read_status(connection, window)
        peaks = read_cycle_peaks(connection, window)
        needs = read_needs(connection, window)
    prepared = _Prepared(scope, start, end, now, transactions, inside, edges, status, peaks, needs)
    spans = tuple(period_spans(start, end, period, scope.tz))
    chargers, site = prepared.aggregate(spans)
    total_span = (PeriodSpan("total", start, end),)
    charger_totals, total = prepared.aggregate(total_span)
    return Stats(scope, start, end, period, now, spans, chargers, site, charger_totals, total)


def _key(charge_point_id: Any, evse_id: Any) -> str:
    return f"{charge_point_id}/{int(evse_id)}"


class _Prepared:
    """The data of one scope and range, reduced to what any breakdown needs."""

    def __init__(
        self,
        scope: StatsScope,
        start: datetime,
        end: datetime,
        now: datetime,
        transactions: pd.DataFrame,
        inside: pd.DataFrame,
        edges: pd.DataFrame,
        status: pd.DataFrame,
        peaks: pd.DataFrame,
        needs: pd.DataFrame,
    ) -> None:
        self.scope = scope
        self.t_start, self.t_end = start.timestamp(), end.timestamp()
        self.now = now
        self.t_limit = max(self.t_start, min(self.t_end, now.timestamp()))
        transactions = transactions.assign(
            charger=[
                _key(c, e)
                for c, e in zip(
                    transactions["charge_point_id"], transactions["evse_id"], strict=True
                )
            ]
        )
        status = status.assign(
            charger=[
                _key(c, e)
                for c, e in zip(status["charge_point_id"], status["evse_id"], strict=True)
            ]
        )
        if scope.chargers is not None:
            self.keys = [_key(cp, evse) for cp, evse in scope.chargers]
            transactions = transactions[transactions["charger"].isin(self.keys)]
            status = status[status["charger"].isin(self.keys)]
        else:
            self.keys = sorted(set(transactions["charger"]) | set(status["charger"]))
        self.transactions = transactions.set_index("tx", drop=False)
        known = set(self.transactions.index)
        inside = inside[inside["tx"].isin(known)]
        edges = edges[edges["tx"].isin(known)]
        self.buckets = self._buckets(inside, edges)
        self.sessions = self._sessions(edges, needs)
        self.occupied = self._occupied(status)
        self.peaks = peaks

    # -- energy and charging time per transaction and quarter hour ---------------------------

    def _pairs(self, edges: pd.DataFrame) -> pd.DataFrame:
        """Pairs of readings not summed by the database: across a quarter hour's edge, from
        meterStart to the first reading, from the last reading to meterStop, and meterStart to
        meterStop of transactions without samples."""
        tx = self.transactions
        cross = edges[edges["b0"].notna() & (edges["b0"] != edges["b"])]
        firsts = edges[edges["t0"].isna()].join(tx[["t_start", "start_wh"]], on="tx")
        firsts = firsts[firsts["start_wh"].notna() & (firsts["t"] >= firsts["t_start"])]
        lasts = edges[edges["last"]].join(tx[["t_stop", "stop_wh"]], on="tx")
        lasts = lasts[lasts["stop_wh"].notna() & (lasts["t_stop"] >= lasts["t"])]
        bare = tx[~tx["tx"].isin(edges["tx"])]
        bare = bare[
            bare["start_wh"].notna() & bare["stop_wh"].notna() & (bare["t_stop"] >= bare["t_start"])
        ]
        names = ["tx", "t0", "wh0", "t1", "wh1"]
        parts = [
            cross[["tx", "t0", "wh0", "t", "wh"]].set_axis(names, axis=1),
            firsts[["tx", "t_start", "start_wh", "t", "wh"]].set_axis(names, axis=1),
            lasts[["tx", "t", "wh", "t_stop", "stop_wh"]].set_axis(names, axis=1),
            bare[["tx", "t_start", "start_wh", "t_stop", "stop_wh"]].set_axis(names, axis=1),
        ]
        parts = [p for p in parts if len(p)]
        if not parts:
            return pd.DataFrame(columns=names, dtype=float)
        pairs = pd.concat(parts, ignore_index=True)
        return pairs.astype({"t0": float, "wh0": float, "t1": float, "wh1": float})

    def _buckets(self, inside: pd.DataFrame, edges: pd.DataFrame) -> pd.DataFrame:
        """tx, b, energy_wh, charging_s: each transaction's energy and charging time per
        quarter hour over its whole life."""
        pairs = self._pairs(edges)
        frames = [inside[["tx", "b", "energy_wh", "charging_s"]]]
        if len(pairs):
            rise = np.clip(pairs["wh1"].to_numpy() - pairs["wh0"].to_numpy(), 0.0, None)
            elapsed = pairs["t1"].to_numpy() - pairs["t0"].to_numpy()
            charging = (elapsed > 0) & (rise * _HOUR_S >= CHARGING_THRESHOLD_W * elapsed)
            pieces = split_on_grid(pairs["t0"], pairs["t1"], BUCKET_S)
            frames.append(
                pd.DataFrame(
                    {
                        "tx": pairs["tx"].to_numpy()[pieces.row],
                        "b": pieces.part,
                        "energy_wh": rise[pieces.row] * pieces.share,
                        "charging_s": np.where(charging[pieces.row], pieces.overlap_s, 0.0),
                    }
                )
            )
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame(
                {
                    "tx": pd.Series(dtype=object),
                    "b": pd.Series(dtype="int64"),
                    "energy_wh": pd.Series(dtype=float),
                    "charging_s": pd.Series(dtype=float),
                }
            )
        combined = pd.concat(frames, ignore_index=True)
        return combined.groupby(["tx", "b"], as_index=False)[["energy_wh", "charging_s"]].sum()

    # -- sessions ------------------------------------------------------------------------------

    def _sessions(self, edges: pd.DataFrame, needs: pd.DataFrame) -> pd.DataFrame:
        """One row per transaction that started in the range: charger, t_start, finished,
        duration_s, energy_wh (its whole energy), revenue, requested_kwh, unmet_kwh."""
        tx = self.transactions
        started = tx[(tx["t_start"] >= self.t_start) & (tx["t_start"] < self.t_end)]
        energy = self.buckets.groupby("tx")["energy_wh"].sum()
        sessions = started[["tx", "charger", "t_start", "t_stop"]].copy()
        sessions["energy_wh"] = sessions["tx"].map(energy).fillna(0.0)
        sessions["finished"] = sessions["t_stop"].notna()
        sessions["duration_s"] = (sessions["t_stop"] - sessions["t_start"]).fillna(0.0)
        requested = needs.groupby("tx")["requested_kwh"].last()
        sessions["requested_kwh"] = sessions["tx"].map(requested)
        has_need = sessions["requested_kwh"].notna() & sessions["finished"]
        unmet = (sessions["requested_kwh"] - sessions["energy_wh"] / 1000.0).clip(lower=0.0)
        sessions["unmet_kwh"] = unmet.where(has_need, 0.0)
        sessions["requested_kwh"] = sessions["requested_kwh"].where(has_need, 0.0)
        sessions["sessions_with_need"] = has_need.astype(int)
        sessions["revenue"] = self._revenue(sessions, edges)
        return sessions

    def _revenue(self, sessions: pd.DataFrame, edges: pd.DataFrame) -> pd.Series:
        tariff = self.scope.tariff
        if tariff is None or sessions.empty:
            return pd.Series(0.0, index=sessions.index)
        tx = self.transactions
        points = pd.concat(
            [
                edges[["tx", "t0", "wh0"]].dropna().set_axis(["tx", "t", "wh"], axis=1),
                edges[["tx", "t", "wh"]],
                tx[["tx", "t_start", "start_wh"]].dropna().set_axis(["tx", "t", "wh"], axis=1),
                tx[["tx", "t_stop", "stop_wh"]].dropna().set_axis(["tx", "t", "wh"], axis=1),
            ],
            ignore_index=True,
        )
        points = points[points["tx"].isin(sessions["tx"])].sort_values(["tx", "t", "wh"])
        readings = {
            name: list(zip(group["t"], np.maximum.accumulate(group["wh"].to_numpy()), strict=True))
            for name, group in points.groupby("tx", sort=False)
        }
        values = [
            _session_revenue(tariff, readings.get(tx_id, []), t_start, t_stop, self.now)
            for tx_id, t_start, t_stop in zip(
                sessions["tx"], sessions["t_start"], sessions["t_stop"], strict=True
            )
        ]
        return pd.Series(values, index=sessions.index, dtype=float)

    # -- plugged-in time -------------------------------------------------------------------------

    def _occupied(self, status: pd.DataFrame) -> pd.DataFrame:
        """charger, lo, hi: the merged plugged-in intervals of each charger, up to now."""
        limit = self.t_limit
        parts = []
        if len(status):
            ordered = status.sort_values(["charge_point_id", "evse_id", "connector_id", "t", "id"])
            following = ordered.groupby(["charge_point_id", "evse_id", "connector_id"])["t"].shift(
                -1
            )
            ordered = ordered.assign(t_next=following.fillna(limit).clip(upper=limit))
            busy = ordered[ordered["status"].isin(OCCUPIED_STATUSES)]
            parts.append(
                pd.DataFrame({"charger": busy["charger"], "lo": busy["t"], "hi": busy["t_next"]})
            )
        tx = self.transactions
        if len(tx):
            parts.append(
                pd.DataFrame(
                    {
                        "charger": tx["charger"],
                        "lo": tx["t_start"],
                        "hi": tx["t_stop"].fillna(limit).clip(upper=limit),
                    }
                )
            )
        merged: list[pd.DataFrame] = []
        if parts:
            for charger, group in pd.concat(parts, ignore_index=True).groupby("charger"):
                lo, hi = merge(group["lo"], group["hi"])
                merged.append(pd.DataFrame({"charger": charger, "lo": lo, "hi": hi}))
        if not merged:
            return pd.DataFrame(
                {
                    "charger": pd.Series(dtype=object),
                    "lo": pd.Series(dtype=float),
                    "hi": pd.Series(dtype=float),
                }
            )
        return pd.concat(merged, ignore_index=True)

    # -- breakdown -------------------------------------------------------------------------------

    def aggregate(self, spans: Sequence[PeriodSpan]) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(per charger and period, per period) tables for these spans."""
        edges = np.array([s.start.timestamp() for s in spans] + [spans[-1].end.timestamp()])
        index = pd.MultiIndex.from_product(
            [self.keys, range(len(spans))], names=["charger", "part"]
        )
        sums = pd.DataFrame(0.0, index=index, columns=list(_SUMS))
        peak = pd.Series(np.nan, index=index)
        site_peak = pd.Series(np.nan, index=range(len(spans)))

        buckets = self._window_buckets(edges)
        if len(buckets):
            by_part = buckets.groupby(["charger", "part"])
            sums.loc[:, ["energy_wh", "charging_s", "energy_cost"]] = (
                by_part[["energy_wh", "charging_s", "energy_cost"]]
                .sum()
                .reindex(index, fill_value=0.0)
            )
            per_bucket = buckets.groupby(["charger", "part", "b"])["energy_wh"].sum()
            peak = (per_bucket.groupby(level=["charger", "part"]).max() * _power_factor()).reindex(
                index
            )
            site_bucket = buckets.groupby(["part", "b"])["energy_wh"].sum()
            site_peak = (site_bucket.groupby(level="part").max() * _power_factor()).reindex(
                range(len(spans))
            )

        occupied = self.occupied
        if len(occupied):
            pieces = split_on_edges(occupied["lo"], occupied["hi"], edges)
            plugged = (
                pd.DataFrame(
                    {
                        "charger": occupied["charger"].to_numpy()[pieces.row],
                        "part": pieces.part,
                        "plugged_in_s": pieces.overlap_s,
                    }
                )
                .groupby(["charger", "part"])["plugged_in_s"]
                .sum()
            )
            sums["plugged_in_s"] = plugged.reindex(index, fill_value=0.0)

        sessions = self.sessions
        if len(sessions):
            part = np.searchsorted(edges, sessions["t_start"].to_numpy(), side="right") - 1
            keep = (part >= 0) & (part < len(spans))
            frame = sessions[keep].assign(part=part[keep], sessions=1)
            frame = frame.assign(
                finished_energy_wh=frame["energy_wh"].where(frame["finished"], 0.0),
                finished=frame["finished"].astype(int),
            )
            columns = [
                "sessions",
                "finished",
                "duration_s",
                "finished_energy_wh",
                "revenue",
                "requested_kwh",
                "unmet_kwh",
                "sessions_with_need",
            ]
            grouped = frame.groupby(["charger", "part"])[columns].sum()
            sums.loc[:, columns] = grouped.reindex(index, fill_value=0.0)

        elapsed = np.array(
            [max(0.0, min(s.end.timestamp(), self.t_limit) - s.start.timestamp()) for s in spans]
        )
        chargers = self._charger_table(spans, sums, peak, elapsed)
        site = self._site_table(spans, sums, site_peak, elapsed, edges)
        if self.scope.tariff is None:  # no money figures without prices
            for table in (chargers, site):
                table[["energy_cost", "revenue"]] = np.nan
        return chargers, site

    def _window_buckets(self, edges: np.ndarray) -> pd.DataFrame:
        """charger, part, b, energy_wh, charging_s, energy_cost of the quarter hours in range."""
        buckets = self.buckets
        starts = buckets["b"].to_numpy(dtype=np.int64) * BUCKET_S
        part = np.searchsorted(edges, starts, side="right") - 1
        keep = (starts >= edges[0]) & (starts < edges[-1])
        frame = buckets[keep].assign(
            part=part[keep], charger=buckets["tx"][keep].map(self.transactions["charger"])
        )
        frame["energy_cost"] = frame["energy_wh"] / 1000.0 * self._prices(frame["b"])
        return frame

    def _prices(self, buckets: pd.Series) -> np.ndarray:
        tariff = self.scope.tariff
        if tariff is None or buckets.empty:
            return np.zeros(len(buckets))
        unique = np.unique(buckets.to_numpy(dtype=np.int64))
        starts = [datetime.fromtimestamp(int(b) * BUCKET_S, UTC) for b in unique]
        prices = np.array(tariff.import_prices_per_kwh(starts, [float(BUCKET_S)] * len(starts)))
        return np.asarray(prices[np.searchsorted(unique, buckets.to_numpy(dtype=np.int64))])

    def _charger_table(
        self,
        spans: Sequence[PeriodSpan],
        sums: pd.DataFrame,
        peak: pd.Series,
        elapsed: np.ndarray,
    ) -> pd.DataFrame:
        table = _figures(sums, elapsed[sums.index.get_level_values("part")], 1, self._minor_unit)
        table["peak_power_kw"] = peak.to_numpy()
        parts = sums.index.get_level_values("part")
        keys = sums.index.get_level_values("charger")
        cp_evse = [key.rpartition("/") for key in keys]
        table.insert(0, "end", [spans[p].end for p in parts])
        table.insert(0, "start", [spans[p].start for p in parts])
        table.insert(0, "period", [spans[p].label for p in parts])
        table.insert(0, "evse_id", [int(evse) for _, _, evse in cp_evse])
        table.insert(0, "charge_point_id", [cp for cp, _, _ in cp_evse])
        table.insert(0, "charger", list(keys))
        return table.reset_index(drop=True)[list(CHARGER_COLUMNS)]

    def _site_table(
        self,
        spans: Sequence[PeriodSpan],
        sums: pd.DataFrame,
        site_peak: pd.Series,
        elapsed: np.ndarray,
        edges: np.ndarray,
    ) -> pd.DataFrame:
        totals = sums.groupby(level="part").sum().reindex(range(len(spans)), fill_value=0.0)
        count = len(self.keys)
        table = _figures(totals, elapsed, count, self._minor_unit)
        table["peak_power_kw"] = site_peak.to_numpy()
        table["peak_measured_kw"] = self._measured_peaks(edges, len(spans))
        table.insert(0, "chargers", count)
        table.insert(0, "end", [s.end for s in spans])
        table.insert(0, "start", [s.start for s in spans])
        table.insert(0, "period", [s.label for s in spans])
        return table.reset_index(drop=True)[list(SITE_COLUMNS)]

    def _measured_peaks(self, edges: np.ndarray, periods: int) -> np.ndarray:
        peaks = self.peaks
        if peaks.empty:
            return np.full(periods, np.nan)
        part = np.searchsorted(edges, peaks["b"].to_numpy(dtype=np.int64) * BUCKET_S, "right") - 1
        keep = (part >= 0) & (part < periods)
        grouped = peaks[keep].groupby(part[keep])["measured_kw"].max()
        return np.asarray(grouped.reindex(range(periods)).to_numpy(dtype=float))

    @property
    def _minor_unit(self) -> int:
        tariff = self.scope.tariff
        return 2 if tariff is None else tariff.minor_unit


def _power_factor() -> float:
    """Energy of a quarter hour [Wh] to its mean power [kW]."""
    return _BUCKETS_PER_HOUR / 1000.0


def _figures(
    sums: pd.DataFrame, elapsed_s: np.ndarray, chargers: int, minor_unit: int
) -> pd.DataFrame:
    """The published figures from the sums (one row per sums row)."""
    capacity_s = elapsed_s * chargers
    plugged_s = sums["plugged_in_s"].to_numpy(dtype=float)
    charging_s = sums["charging_s"].to_numpy(dtype=float)
    finished = sums["finished"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        occupancy = np.where(capacity_s > 0, plugged_s / capacity_s * 100.0, np.nan)
        charging = np.where(capacity_s > 0, charging_s / capacity_s * 100.0, np.nan)
        mean_duration = np.where(
            finished > 0, sums["duration_s"].to_numpy(dtype=float) / finished / _HOUR_S, np.nan
        )
        mean_energy = np.where(
            finished > 0,
            sums["finished_energy_wh"].to_numpy(dtype=float) / finished / 1000.0,
            np.nan,
        )
    idle_s = np.clip(plugged_s - charging_s, 0.0, None)
    return pd.DataFrame(
        {
            "sessions": sums["sessions"].astype(int).to_numpy(),
            "energy_kwh": (sums["energy_wh"] / 1000.0).to_numpy(),
            "plugged_in_h": plugged_s / _HOUR_S,
            "charging_h": charging_s / _HOUR_S,
            "idle_h": idle_s / _HOUR_S,
            "occupancy_pct": occupancy,
            "charging_pct": charging,
            "mean_session_duration_h": mean_duration,
            "mean_session_energy_kwh": mean_energy,
            "peak_power_kw": np.nan,
            "energy_cost": sums["energy_cost"].round(minor_unit).to_numpy(),
            "revenue": sums["revenue"].round(minor_unit).to_numpy(),
            "requested_kwh": sums["requested_kwh"].to_numpy(),
            "unmet_kwh": sums["unmet_kwh"].to_numpy(),
            "sessions_with_need": sums["sessions_with_need"].astype(int).to_numpy(),
        }
    )


def _session_revenue(
    tariff: Tariff,
    readings: Sequence[tuple[float, float]],
    t_start: float,
    t_stop: float,
    now: datetime,
) -> float:
    """The session's subtotal (excluding tax) under ``tariff``; NaN when it cannot be costed."""
    started = datetime.fromtimestamp(t_start, UTC)
    stopped = None if np.isnan(t_stop) else datetime.fromtimestamp(t_stop, UTC)
    register = [(datetime.fromtimestamp(t, UTC), float(wh)) for t, wh in readings]
    try:
        cost = tariff.session_cost(register, started, stopped, now=max(now, started))
    except ValueError as error:
        log.warning("session starting %s cannot be costed: %s", started.isoformat(), error)
        return float("nan")
    return float(cost.subtotal)
