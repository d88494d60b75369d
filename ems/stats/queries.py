"""The statistics' reads: what the database reduces before pandas sees it.

Meter samples are the volume (a reading a minute per charging car), so the database reduces them:
per transaction and 15-minute UTC interval ("bucket") it sums the energy and the charging time of
the pairs of consecutive energy-register readings that lie inside the bucket (window functions
``LAG``/``LEAD``), and returns only the readings at bucket edges (the first reading of each
bucket with the one before it, and each transaction's last reading). That is at most about two
rows per transaction and quarter hour, however often chargers sample, and pandas still splits the
remaining pairs exactly by time. Transactions, status changes, charging needs and the control
loop's measured peaks are small and read as rows.

The same statements run on SQLite and PostgreSQL; only the conversion of a timestamp to epoch
seconds differs (:func:`epoch_s`, :func:`bucket_of`). Times come back as float epoch seconds (UTC).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Float,
    Integer,
    Select,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)

from ems.stats.periods import BUCKET_S
from ems.store import models as m

ENERGY_REGISTER = "Energy.Active.Import.Register"
#: Mean power between two register readings from which a car counts as charging [W]; the same
#: default as a tariff's ``charging_threshold_w`` and the control loop's charging test.
CHARGING_THRESHOLD_W = 100.0


def epoch_s(column: Any, dialect: str) -> ColumnElement[Any]:
    """A timestamp column as epoch seconds (UTC, with the fraction).

    SQLite stores naive UTC text ``YYYY-MM-DD HH:MM:SS.ffffff``: whole seconds from ``strftime``
    plus the fraction read from the text, so no rounding of a Julian day gets in.
    """
    if dialect == "sqlite":
        whole = cast(func.strftime("%s", column), Integer)
        return whole + cast(func.substr(column, 20), Float)
    return cast(extract("epoch", column), Float)


def bucket_of(column: Any, dialect: str) -> ColumnElement[Any]:
    """The index of the 15-minute UTC interval a timestamp falls in (epoch seconds // 900)."""
    if dialect == "sqlite":
        return cast(func.strftime("%s", column), Integer) // BUCKET_S
    return cast(func.floor(extract("epoch", column) / BUCKET_S), BigInteger)


@dataclass(frozen=True, slots=True)
class Window:
    """What to read: ``[start, end)`` and the charge points (None: all of them)."""

    start: datetime
    end: datetime
    charge_point_ids: Sequence[str] | None = None
    site_id: str | None = None


def _transactions_query(window: Window) -> Select[Any]:
    """Transactions that overlap the window: started before its end, not stopped before its
    start (running ones included)."""
    t = m.transactions
    query = select(
        t.c.id,
        t.c.charge_point_id,
        t.c.evse_id,
        t.c.started_at,
        t.c.stopped_at,
        t.c.meter_start_wh,
        t.c.meter_stop_wh,
    ).where(
        t.c.started_at < window.end,
        or_(t.c.stopped_at.is_(None), t.c.stopped_at > window.start),
    )
    if window.charge_point_ids is not None:
        query = query.where(t.c.charge_point_id.in_(list(window.charge_point_ids)))
    return query


def _frame(connection: Connection, query: Any, columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(connection.execute(query).all(), columns=list(columns))


def _seconds(values: pd.Series) -> pd.Series:
    """Aware datetimes (None allowed) as float epoch seconds (NaN for None)."""
    stamps = pd.to_datetime(values, utc=True)
    return ((stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).astype(float)


def read_transactions(connection: Connection, window: Window) -> pd.DataFrame:
    """Columns: tx, charge_point_id, evse_id, t_start, t_stop (NaN while running), start_wh
    (meterStart), stop_wh (meterStop)."""
    columns = [
        "tx",
        "charge_point_id",
        "evse_id",
        "started_at",
        "stopped_at",
        "start_wh",
        "stop_wh",
    ]
    frame = _frame(connection, _transactions_query(window), columns)
    frame["t_start"] = _seconds(frame.pop("started_at"))
    frame["t_stop"] = _seconds(frame.pop("stopped_at"))
    for name in ("start_wh", "stop_wh"):
        frame[name] = frame[name].astype(float)
    return frame


def _reading_pairs(window: Window, dialect: str) -> Any:
    """Every energy-register reading of the window's transactions with its neighbours."""
    s = m.meter_samples
    tx_ids = _transactions_query(window).with_only_columns(m.transactions.c.id)
    readings = (
        select(
            s.c.transaction_pk.label("tx"),
            s.c.id.label("sid"),
            epoch_s(s.c.timestamp, dialect).label("t"),
            bucket_of(s.c.timestamp, dialect).label("b"),
            case((s.c.unit == "kWh", s.c.value * 1000.0), else_=s.c.value).label("wh"),
        )
        .where(
            s.c.transaction_pk.in_(tx_ids.scalar_subquery()),
            s.c.measurand == ENERGY_REGISTER,
            s.c.phase.is_(None),
            or_(s.c.location.is_(None), s.c.location == "Outlet"),
        )
        .cte("readings")
        .prefix_with("MATERIALIZED")
    )
    r = readings.c
    by_tx, in_order = r.tx, (r.t, r.sid)
    return select(
        r.tx,
        r.t,
        r.b,
        r.wh,
        func.lag(r.t).over(partition_by=by_tx, order_by=in_order).label("t0"),
        func.lag(r.wh).over(partition_by=by_tx, order_by=in_order).label("wh0"),
        func.lag(r.b).over(partition_by=by_tx, order_by=in_order).label("b0"),
        func.lead(r.t).over(partition_by=by_tx, order_by=in_order).label("t1"),
    ).cte("pairs").prefix_with("MATERIALIZED")


def read_register(connection: Connection, window: Window) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The reduced energy-register readings of the window's transactions (all their readings,
    also those outside the window, so that sessions are whole).

    Returns ``(inside, edges)``:

    * ``inside``: tx, b (bucket), energy_wh, charging_s: sums over consecutive readings that are
      both in bucket ``b``; energy counts rises only (a register that goes down adds nothing),
      and a pair is charging when its mean power is at least :data:`CHARGING_THRESHOLD_W`.
    * ``edges``: tx, t0, wh0, b0, t, wh, b, last: the readings that open a bucket (with the
      reading before, if any, in ``t0``/``wh0``) and each transaction's last reading.
    """
    p = _reading_pairs(window, connection.dialect.name).c
    same = and_(p.b0.is_not(None), p.b0 == p.b)
    rise = p.wh - p.wh0
    elapsed = p.t - p.t0
    charging = and_(elapsed > 0, rise * 3600.0 >= literal(CHARGING_THRESHOLD_W) * elapsed)
    nothing = cast(null(), Float)
    # One statement, so the database runs the window functions once (a CTE used twice is
    # materialized by both SQLite and PostgreSQL).
    inside_query = (
        select(
            literal(1).label("inside"),
            p.tx,
            p.b,
            func.sum(case((rise > 0, rise), else_=0.0)).label("energy_wh"),
            func.sum(case((charging, elapsed), else_=0.0)).label("charging_s"),
            nothing.label("t0"),
            nothing.label("wh0"),
            nothing.label("b0"),
            nothing.label("t"),
            nothing.label("wh"),
            literal(False).label("last"),
        )
        .where(same)
        .group_by(p.tx, p.b)
    )
    edges_query = select(
        literal(0).label("inside"),
        p.tx,
        p.b,
        nothing.label("energy_wh"),
        nothing.label("charging_s"),
        p.t0,
        p.wh0,
        cast(p.b0, Float).label("b0"),
        p.t,
        p.wh,
        p.t1.is_(None).label("last"),
    ).where(or_(p.b0.is_(None), p.b0 != p.b, p.t1.is_(None)))
    columns = ["inside", "tx", "b", "energy_wh", "charging_s", "t0", "wh0", "b0", "t", "wh", "last"]
    rows = _frame(connection, union_all(inside_query, edges_query), columns)
    rows["b"] = rows["b"].astype("int64")
    for name in ("energy_wh", "charging_s", "t0", "wh0", "b0", "t", "wh"):
        rows[name] = rows[name].astype(float)
    is_inside = rows.pop("inside").astype(bool)
    inside = rows.loc[is_inside, ["tx", "b", "energy_wh", "charging_s"]].reset_index(drop=True)
    edges = rows.loc[~is_inside, ["tx", "t0", "wh0", "b0", "t", "wh", "b", "last"]]
    edges = edges.reset_index(drop=True).astype({"last": bool})
    return inside, edges


def read_status(connection: Connection, window: Window) -> pd.DataFrame:
    """Status changes of EVSEs (evse_id > 0) in the window, plus each connector's last status
    before it (the state the window starts in). Columns: charge_point_id, evse_id, connector_id,
    status, t, id."""
    h = m.status_history
    columns = [h.c.charge_point_id, h.c.evse_id, h.c.connector_id, h.c.status, h.c.timestamp]
    scope = [h.c.evse_id > 0]
    if window.charge_point_ids is not None:
        scope.append(h.c.charge_point_id.in_(list(window.charge_point_ids)))
    inside = select(*columns, h.c.id).where(
        *scope, h.c.timestamp >= window.start, h.c.timestamp < window.end
    )
    ranked = (
        select(
            *columns,
            h.c.id,
            func.row_number()
            .over(
                partition_by=(h.c.charge_point_id, h.c.evse_id, h.c.connector_id),
                order_by=(h.c.timestamp.desc(), h.c.id.desc()),
            )
            .label("rank"),
        )
        .where(*scope, h.c.timestamp < window.start)
        .subquery()
    )
    before = select(*(ranked.c[c.name] for c in columns), ranked.c.id).where(ranked.c.rank == 1)
    names = ["charge_point_id", "evse_id", "connector_id", "status", "timestamp", "id"]
    frame = pd.concat(
        [_frame(connection, before, names), _frame(connection, inside, names)], ignore_index=True
    )
    frame["t"] = _seconds(frame.pop("timestamp"))
    return frame


def read_cycle_peaks(connection: Connection, window: Window) -> pd.DataFrame:
    """The highest site power the control loop measured, per bucket of the window.

    Columns: b, measured_kw. Empty without a ``site_id`` or without cycles.
    """
    if window.site_id is None:
        return pd.DataFrame({"b": pd.Series(dtype="int64"), "measured_kw": pd.Series(dtype=float)})
    c = m.control_cycles
    bucket = bucket_of(c.c.started_at, connection.dialect.name).label("b")
    query = (
        select(bucket, func.max(c.c.measured_kw).label("measured_kw"))
        .where(
            c.c.site_id == window.site_id,
            c.c.started_at >= window.start,
            c.c.started_at < window.end,
            c.c.measured_kw.is_not(None),
        )
        .group_by(bucket)
    )
    frame = _frame(connection, query, ["b", "measured_kw"])
    frame["b"] = frame["b"].astype("int64")
    frame["measured_kw"] = frame["measured_kw"].astype(float)
    return frame


def read_needs(connection: Connection, window: Window) -> pd.DataFrame:
    """The energy drivers asked for, for the window's transactions. Columns: tx, requested_kwh."""
    n = m.charging_needs
    tx_ids = _transactions_query(window).with_only_columns(m.transactions.c.id)
    query = select(n.c.transaction_pk, n.c.energy_kwh).where(
        n.c.transaction_pk.in_(tx_ids.scalar_subquery()), n.c.energy_kwh.is_not(None)
    )
    frame = _frame(connection, query, ["tx", "requested_kwh"])
    frame["requested_kwh"] = frame["requested_kwh"].astype(float)
    return frame
