"""Driver identification: id tokens, their answers to chargers, local lists and caches.

- :mod:`ems.identity.tokens`: the token record (type, status, expiry, group, account,
  concurrency, locations) and its validation;
- :mod:`ems.identity.policy`: the answer to a token at a charge point (pure);
- :mod:`ems.identity.repository`: tokens and local list state in the database;
- :mod:`ems.identity.local_list` and :mod:`ems.identity.sync`: local authorization lists
  (Full and Differential, versions) and cache clearing;
- :mod:`ems.identity.tokens_csv`: CSV import (checked line by line) and export;
- :mod:`ems.identity.service`: :class:`Identity`, which the central system owns.

A transaction whose token turns out not Accepted (started offline, or the token changed) is
answered with the real status and kept; whether the charger stops it is its
StopTransactionOnInvalidId / StopTxOnInvalidId and MaxEnergyOnInvalidId setting, which ems
respects rather than overriding it with a remote stop (``CentralSystem._deauthorized``).
"""

from ems.identity.policy import TokenAuthorization, TokenFacts, decide
from ems.identity.repository import TokenConflict, TokenFilter, UnknownToken
from ems.identity.service import Identity, ImportResult
from ems.identity.sync import SyncOutcome
from ems.identity.tokens import Location, TokenError, TokenRecord, TokenStatus, TokenType
from ems.identity.tokens_csv import CsvImportError, RowError, read_tokens_csv, write_tokens_csv

__all__ = [
    "CsvImportError",
    "Identity",
    "ImportResult",
    "Location",
    "RowError",
    "SyncOutcome",
    "TokenAuthorization",
    "TokenConflict",
    "TokenError",
    "TokenFacts",
    "TokenFilter",
    "TokenRecord",
    "TokenStatus",
    "TokenType",
    "UnknownToken",
    "decide",
    "read_tokens_csv",
    "write_tokens_csv",
]
