"""Persistence of ems: SQLAlchemy schema with packaged Alembic migrations, SQLite or PostgreSQL.

``Store`` migrates the schema, loads what ems needs at start and answers the API's queries;
``Recorder`` takes the writes that come with OCPP traffic off the message loop and writes them in
batches from one thread. Rows handed out are plain frozen dataclasses (``ems.store.rows``) or
domain objects, never ORM objects.
"""

from ems.store.recorder import Recorder
from ems.store.rows import (
    ApiTokenRow,
    ChargePointRow,
    EventRow,
    FrameRow,
    IdTokenRow,
    ProfileRow,
    SettingRow,
)
from ems.store.store import Store

__all__ = [
    "ApiTokenRow",
    "ChargePointRow",
    "EventRow",
    "FrameRow",
    "IdTokenRow",
    "ProfileRow",
    "Recorder",
    "SettingRow",
    "Store",
]
