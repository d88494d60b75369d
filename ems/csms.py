"""The central system: live state of every charge point and transaction, fed by OCPP edges.

The edges (``ems.ocpp.v16``, ``ems.ocpp.v201``) translate each message into a call on
:class:`CentralSystem`, which updates its state, queues the writes on the recorder and publishes a
domain event. It holds no OCPP types. Writes are batched by :class:`ems.store.Recorder`, so a call
here never waits on the database except for the rare reads noted on each method.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from ems import metrics
from ems.commands import ChargePointCommands, VariableRef
from ems.config import Settings
from ems.domain import (
    Authorization,
    AuthorizationStatus,
    BootInfo,
    ChargePointOffline,
    CommandError,
    IdToken,
    MeterSample,
    OcppVersion,
    Registration,
    StatusReport,
    Transaction,
)
from ems.events import (
    ChargePointAccepted,
    ChargePointBooted,
    ChargePointConnected,
    ChargePointDisconnected,
    ChargingNeedsReported,
    Event,
    MeterValuesReceived,
    NoTransactionReported,
    StatusChanged,
    TransactionEnded,
    TransactionStarted,
)
from ems.identity import Identity, TokenError, TokenRecord, TokenStatus, TokenType
from ems.identity.tokens import check_record
from ems.ocpp.redact import REDACTED, is_secret_name
from ems.passwords import hash_password, verify_password
from ems.samples import SampleDedupe
from ems.store import ChargePointRow, Recorder, SettingRow, Store
from ems.store.store import OCPP16_TRANSACTION_COUNTER

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
ENERGY_REGISTER = "Energy.Active.Import.Register"
# Finished transactions stay in memory this long (by count) so that repeated stop messages are
# recognised without a database read.
RECENTLY_ENDED = 10_000
# A report dated further than this ahead of ems's clock is kept as sent but flagged, and a status
# is ordered as if it came now (a charger's clock running ahead must not freeze its status) [s].
CLOCK_SKEW_S = 300.0
# A register may read this much lower than the last one without being implausible (rounding) [Wh].
REGISTER_TOLERANCE_WH = 1.0
# A charge point's last_seen_at is stored at most this often [s].
SEEN_STORE_INTERVAL_S = 1.0
# Implausible data of one kind from one charge point is logged at most this often [s].
FLAG_INTERVAL_S = 600.0


def utc_now() -> datetime:
    return datetime.now(UTC)


class Session(ChargePointCommands, Protocol):
    """A live connection to a charge point, as the central system sees it."""

    async def close(self, reason: str, code: int = 1000) -> None: ...


@dataclass(slots=True)
class ChargePointState:
    """What ems knows of one charge point, live."""

    id: str
    registration: Registration
    security_profile: int
    password_hash: str | None = None
    version: OcppVersion | None = None
    boot: BootInfo | None = None
    last_seen_at: datetime | None = None
    connectors: dict[tuple[int, int], StatusReport] = field(default_factory=dict)

    def row(self) -> ChargePointRow:
        boot = self.boot
        return ChargePointRow(
            id=self.id,
            registration=self.registration.value,
            security_profile=self.security_profile,
            password_hash=self.password_hash,
            ocpp_version=self.version.value if self.version else None,
            vendor=boot.vendor if boot else None,
            model=boot.model if boot else None,
            serial_number=boot.serial_number if boot else None,
            firmware_version=boot.firmware_version if boot else None,
            iccid=boot.iccid if boot else None,
            imsi=boot.imsi if boot else None,
            meter_type=boot.meter_type if boot else None,
            meter_serial_number=boot.meter_serial_number if boot else None,
            boot_reason=boot.reason if boot else None,
            last_boot_at=None,
            last_seen_at=self.last_seen_at,
            created_at=None,
        )


def energy_wh(sample: MeterSample) -> float:
    """The sample's value in Wh (registers are reported in Wh or kWh)."""
    return sample.value * 1000.0 if sample.unit == "kWh" else sample.value


def _is_total_register(sample: MeterSample) -> bool:
    return (
        sample.measurand == ENERGY_REGISTER
        and sample.phase is None
        and sample.location in (None, "Outlet")
    )


class CentralSystem:
    """Live state of the site's charge points; the one place OCPP edges report to."""

    def __init__(
        self, settings: Settings, store: Store, recorder: Recorder, clock: Clock = utc_now
    ) -> None:
        self.settings = settings
        self.store = store
        self.recorder = recorder
        self.clock = clock
        self.charge_points: dict[str, ChargePointState] = {}
        self.sessions: dict[str, Session] = {}
        self._open: dict[str, dict[str, Transaction]] = {}  # charge point -> id -> running tx
        self._by_wire_id: dict[tuple[str, str], Transaction] = {}
        self._seen_seq_nos: dict[str, set[int]] = {}
        self.samples = SampleDedupe(store)
        self._flagged_at: dict[tuple[str, str], datetime] = {}
        self._seen_stored: dict[str, datetime] = {}
        self._recently_ended: OrderedDict[str, Transaction] = OrderedDict()
        self._register_times: dict[str, tuple[datetime, datetime]] = {}
        self._next_numeric_tx_id = 1
        self._listeners: list[Callable[[Event], None]] = []
        self._verified_passwords: dict[str, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.identity = Identity(
            self, accept_unknown=settings.ocpp.accept_unknown_id_tokens, clock=clock
        )

    # ---- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Load charge points, connector states and open transactions; apply configured ones."""
        await asyncio.to_thread(self._load)
        await self.identity.start(self._configured_tokens())
        for cp in self.settings.charge_points:
            await self.register_charge_point(
                cp.id, cp.security_profile, cp.password, cp.registration, keep_password=True
            )
        log.info(
            "loaded %d charge points, %d open transactions",
            len(self.charge_points),
            sum(len(txs) for txs in self._open.values()),
        )

    def _load(self) -> None:
        for row in self.store.load_charge_points():
            self.charge_points[row.id] = ChargePointState(
                id=row.id,
                registration=Registration(row.registration),
                security_profile=row.security_profile,
                password_hash=row.password_hash,
                version=OcppVersion(row.ocpp_version) if row.ocpp_version else None,
                boot=BootInfo(
                    vendor=row.vendor,
                    model=row.model or "",
                    serial_number=row.serial_number,
                    firmware_version=row.firmware_version,
                    iccid=row.iccid,
                    imsi=row.imsi,
                    meter_type=row.meter_type,
                    meter_serial_number=row.meter_serial_number,
                    reason=row.boot_reason,
                )
                if row.vendor is not None
                else None,
                last_seen_at=row.last_seen_at,
            )
        for charge_point_id, report in self.store.load_connectors():
            state = self.charge_points.get(charge_point_id)
            if state is not None:
                state.connectors[(report.evse_id, report.connector_id)] = report
        for tx in self.store.load_open_transactions():
            self._track(tx)
        self._next_numeric_tx_id = self.store.last_ocpp16_transaction_id() + 1

    def _configured_tokens(self) -> list[TokenRecord]:
        """``[[id_tokens]]`` as records; their type and status are applied at every start."""
        records = []
        for index, token in enumerate(self.settings.id_tokens):
            try:
                record = TokenRecord(token.id, TokenType(token.type), TokenStatus(token.status))
                check_record(record)
            except (ValueError, TokenError) as error:
                raise ValueError(f"id_tokens[{index}] ({token.id!r}): {error}") from None
            records.append(record)
        return records

    async def stop(self) -> None:
        """Close every connection (charge points reconnect to the next ems)."""
        await self.identity.stop()
        sessions = list(self.sessions.values())
        results = await asyncio.gather(
            *(s.close("ems is shutting down", 1001) for s in sessions), return_exceptions=True
        )
        for error in results:
            if isinstance(error, Exception):
                log.warning("closing a connection failed: %r", error)

    # ---- events ----------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``listener`` with every event from now on; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _publish(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("event listener %r failed on %r", listener, event)

    # ---- registration and connections --------------------------------------------------------

    async def register_charge_point(
        self,
        charge_point_id: str,
        security_profile: int,
        password: str | None,
        registration: Registration,
        *,
        keep_password: bool = False,
    ) -> ChargePointState:
        """Create or update a charge point's registration and store it.

        The password is hashed off the event loop; the live state changes in one step afterwards.
        ``keep_password`` keeps the stored hash when it already matches (configured passwords are
        applied at every start).
        """
        state = self.charge_points.get(charge_point_id)
        password_hash = state.password_hash if state is not None else None
        if password is not None:
            unchanged = (
                keep_password
                and password_hash is not None
                and await asyncio.to_thread(verify_password, password_hash, password)
            )
            if not unchanged:
                password_hash = await asyncio.to_thread(hash_password, password)
                self._verified_passwords.pop(charge_point_id, None)
        state = self.charge_points.get(charge_point_id)
        if state is None:
            state = ChargePointState(charge_point_id, registration, security_profile)
            self.charge_points[charge_point_id] = state
        newly_accepted = (
            state.registration is not Registration.ACCEPTED
            and registration is Registration.ACCEPTED
        )
        state.registration = registration
        state.security_profile = security_profile
        state.password_hash = password_hash
        await asyncio.to_thread(self.store.upsert_charge_point, state.row())
        if newly_accepted and charge_point_id in self.sessions:
            self._background(self._trigger_boot(charge_point_id))
        return state

    async def _trigger_boot(self, charge_point_id: str) -> None:
        """Let a charge point that was waiting (Pending) boot now rather than at its next retry."""
        try:
            await self.commands(charge_point_id).trigger_message("BootNotification")
        except CommandError as error:
            log.info("%s: could not trigger its BootNotification: %s", charge_point_id, error)

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def remove_charge_point(self, charge_point_id: str) -> bool:
        """Close its connection and forget it; its history stays in the database."""
        session = self.sessions.get(charge_point_id)
        if session is not None:
            await session.close("charge point removed from ems")
        self.charge_points.pop(charge_point_id, None)
        self._verified_passwords.pop(charge_point_id, None)
        return await asyncio.to_thread(self.store.delete_charge_point, charge_point_id)

    async def check_password(
        self,
        charge_point_id: str,
        password: str,
        verify: Callable[[str, str], Coroutine[Any, Any, bool]] | None = None,
    ) -> bool:
        """Verify Basic-auth credentials; Argon2 runs off the event loop, once per password.

        A password whose SHA-256 is that of the last verified one passes without Argon2 and
        without ``verify``: a reconnect costs a lookup, and a lockout caused by someone else's
        guesses (``ems.ocpp.admission``) cannot keep out a charger that proved its password
        before. Otherwise ``verify(hash, password)`` decides (default: Argon2 in a worker
        thread); whatever it raises to refuse without hashing passes through.
        """
        state = self.charge_points.get(charge_point_id)
        if state is None or state.password_hash is None:
            return False
        digest = hashlib.sha256(password.encode()).hexdigest()
        if self._verified_passwords.get(charge_point_id) == digest:
            return True
        password_hash = state.password_hash
        if verify is None:
            ok = await asyncio.to_thread(verify_password, password_hash, password)
        else:
            ok = await verify(password_hash, password)
        ok = ok and state.password_hash == password_hash  # not changed meanwhile
        if ok:
            self._verified_passwords[charge_point_id] = digest
        return ok

    async def auto_register(self, charge_point_id: str) -> ChargePointState:
        """A charge point unknown so far, admitted because auto-registration is on."""
        state = ChargePointState(charge_point_id, self.settings.ocpp.auto_register_status, 0)
        self.charge_points[charge_point_id] = state
        await asyncio.to_thread(self.store.upsert_charge_point, state.row())
        return state

    async def connect(self, charge_point_id: str, version: OcppVersion, session: Session) -> None:
        """Make ``session`` the charge point's connection, closing any older one."""
        old = self.sessions.get(charge_point_id)
        self.sessions[charge_point_id] = session
        state = self.charge_points[charge_point_id]
        state.version = version
        self.seen(charge_point_id)
        if old is not None and old is not session:
            log.info("%s reconnected; closing its previous connection", charge_point_id)
            await old.close("replaced by a new connection")
        self._publish(ChargePointConnected(charge_point_id, version))

    def disconnect(self, charge_point_id: str, session: Session) -> None:
        if self.sessions.get(charge_point_id) is session:
            del self.sessions[charge_point_id]
            self._publish(ChargePointDisconnected(charge_point_id))

    def commands(self, charge_point_id: str) -> ChargePointCommands:
        """The command interface of a connected charge point."""
        session = self.sessions.get(charge_point_id)
        if session is None:
            raise ChargePointOffline(f"charge point {charge_point_id!r} is not connected")
        return session

    def seen(self, charge_point_id: str) -> None:
        """Traffic from the charge point: ``last_seen_at`` is now (stored at most once every
        ``SEEN_STORE_INTERVAL_S``: it is not worth a write per message)."""
        now = self.clock()
        state = self.charge_points.get(charge_point_id)
        if state is None:
            return
        stored = self._seen_stored.get(charge_point_id)
        state.last_seen_at = now
        if stored is None or (now - stored).total_seconds() >= SEEN_STORE_INTERVAL_S:
            self._seen_stored[charge_point_id] = now
            self.recorder.seen(charge_point_id, now)

    # ---- messages from charge points ---------------------------------------------------------

    def boot(self, charge_point_id: str, info: BootInfo) -> Registration:
        """Record a BootNotification; the answer is the charge point's registration state."""
        state = self.charge_points[charge_point_id]
        state.boot = info
        version = state.version.value if state.version else ""
        self.recorder.charge_point_boot(charge_point_id, version, info, self.clock())
        self._publish(ChargePointBooted(charge_point_id, info))
        return state.registration

    def accepted(self, charge_point_id: str) -> None:
        """The charge point's boot was answered Accepted (called after the answer went out)."""
        self._publish(ChargePointAccepted(charge_point_id))

    def registration(self, charge_point_id: str) -> Registration:
        return self.charge_points[charge_point_id].registration

    def status(self, charge_point_id: str, report: StatusReport) -> None:
        """Record a status; an older report arriving late goes to history only.

        A report dated in the future (beyond ``CLOCK_SKEW_S``) is kept as sent in the history
        and flagged, and becomes the connector's status as of now.
        """
        state = self.charge_points[charge_point_id]
        key = (report.evse_id, report.connector_id)
        now = self.clock()
        as_of = report
        if (report.timestamp - now).total_seconds() > CLOCK_SKEW_S:
            self.flag(charge_point_id, "status_in_future", {
                "evse_id": report.evse_id, "status": str(report.status),
                "timestamp": report.timestamp.isoformat(), "received_at": now.isoformat(),
            })  # fmt: skip
            as_of = dataclasses.replace(report, timestamp=now)
        latest = state.connectors.get(key)
        current = latest is None or as_of.timestamp >= latest.timestamp
        if current:
            state.connectors[key] = as_of
        self.recorder.status(
            charge_point_id, report, current=current, current_at=as_of.timestamp
        )
        if current:
            self._publish(StatusChanged(charge_point_id, as_of))

    def flag(self, charge_point_id: str, kind: str, details: dict[str, object]) -> None:
        """Implausible but valid data: kept, recorded as a ``implausible_data`` event for
        review, logged at most every ``FLAG_INTERVAL_S`` per charge point and kind."""
        self.report(charge_point_id, "implausible_data", {"kind": kind, **details})
        metrics.count_implausible(kind)
        now = self.clock()
        last = self._flagged_at.get((charge_point_id, kind))
        if last is None or (now - last).total_seconds() >= FLAG_INTERVAL_S:
            self._flagged_at[(charge_point_id, kind)] = now
            log.warning("%s sent implausible data (%s): %s", charge_point_id, kind, details)

    async def authorize(self, charge_point_id: str, token: IdToken) -> Authorization:
        """The answer to an id token presented at a charge point (see ``ems.identity.policy``).

        A database read, off the event loop.
        """
        return await self.identity.authorize(charge_point_id, token)

    def _deauthorized(self, tx: Transaction, authorization: Authorization) -> None:
        """A running transaction's token was answered other than Accepted.

        The answer itself tells the charger (1.6 StartTransaction.conf, 2.0.1
        TransactionEventResponse); whether it stops is its StopTransactionOnInvalidId /
        StopTxOnInvalidId and MaxEnergyOnInvalidId setting, which the operator chose, so ems
        does not send a stop of its own. Kept as a ``transaction_deauthorized`` event.
        """
        token = tx.id_token
        self.identity.refused(tx.id)
        log.warning(
            "%s: transaction %s runs with id token %s answered %s%s",
            tx.charge_point_id,
            tx.transaction_id,
            token.id if token else None,
            authorization.status.value,
            " (started offline)" if tx.offline else "",
        )
        self.report(
            tx.charge_point_id,
            "transaction_deauthorized",
            {
                "transaction_id": tx.transaction_id,
                "transaction_pk": tx.id,
                "evse_id": tx.evse_id,
                "id_token": token.id if token else None,
                "status": authorization.status.value,
                "offline": tx.offline,
                "started_at": tx.started_at.isoformat(),
            },
        )

    async def start_transaction(
        self,
        charge_point_id: str,
        evse_id: int,
        connector_id: int,
        token: IdToken,
        meter_start_wh: float,
        timestamp: datetime,
    ) -> tuple[Transaction, Authorization]:
        """A 1.6 StartTransaction: ems assigns the transaction id.

        A repeated request for the same start (the charge point did not get our answer) gets the
        same transaction back, so a retry never opens a second session.
        """
        for tx in self._open_on(charge_point_id, evse_id):
            if tx.started_at == timestamp and tx.meter_start_wh == meter_start_wh:
                self.recorder.transaction(tx)  # a first attempt may not have been stored
                return tx, await self.identity.authorize(charge_point_id, token, evse_id=evse_id)
        authorization = await self.identity.authorize(
            charge_point_id, token, evse_id=evse_id, starting=True
        )
        number = self._next_numeric_tx_id
        self._next_numeric_tx_id += 1
        transaction_id = str(number)
        self._replace_open(charge_point_id, evse_id, transaction_id, timestamp)
        # committed with the transaction, before the charger learns the id: never handed out twice
        self.recorder.counter(OCPP16_TRANSACTION_COUNTER, number)
        tx = Transaction(
            id=uuid.uuid4().hex,
            charge_point_id=charge_point_id,
            transaction_id=transaction_id,
            evse_id=evse_id,
            connector_id=connector_id,
            started_at=timestamp,
            id_token=token,
            meter_start_wh=meter_start_wh,
        )
        self._track(tx)
        self.samples.begin((charge_point_id, evse_id, tx.id))
        self.recorder.transaction(tx)
        self._publish(TransactionStarted(tx))
        if authorization.status is not AuthorizationStatus.ACCEPTED:
            self._deauthorized(tx, authorization)
        return tx, authorization

    async def stop_transaction(
        self,
        charge_point_id: str,
        transaction_id: str,
        meter_stop_wh: float,
        timestamp: datetime,
        reason: str | None,
        token: IdToken | None,
        samples: Sequence[MeterSample],
    ) -> Authorization | None:
        """A 1.6 StopTransaction; a repeated or unknown one is answered and changes nothing."""
        authorization = await self.authorize(charge_point_id, token) if token else None
        tx = self._by_wire_id.get((charge_point_id, transaction_id))
        if tx is None:
            tx = await asyncio.to_thread(
                self.store.find_transaction, charge_point_id, transaction_id
            )
            if tx is None:
                log.warning("%s: stop of unknown transaction %s", charge_point_id, transaction_id)
                return authorization
        await self._add_samples(tx, tx.evse_id, tx.connector_id, samples)
        if tx.active:
            self._end(tx, timestamp, meter_stop_wh, reason or "Local")
        elif tx.closed_reason is not None:
            self._correct_end(tx, timestamp, meter_stop_wh, reason or "Local")
        else:
            self.recorder.transaction(tx)  # a repeat: a first attempt may not have been stored
        return authorization

    async def transaction_event(
        self,
        charge_point_id: str,
        *,
        event_type: str,
        transaction_id: str,
        seq_no: int,
        timestamp: datetime,
        evse_id: int | None,
        connector_id: int | None,
        token: IdToken | None,
        samples: Sequence[MeterSample],
        offline: bool,
        stopped_reason: str | None,
        remote_start_id: int | None = None,
    ) -> Authorization | None:
        """A 2.0.1 TransactionEvent (Started, Updated or Ended), in any order, possibly repeated.

        A transaction is created by whichever of its events arrives first; a repeated seqNo adds
        nothing; an Ended for a finished transaction changes nothing.
        """
        key = (charge_point_id, transaction_id)
        tx = self._by_wire_id.get(key)
        if tx is None:
            tx = await asyncio.to_thread(
                self.store.find_transaction, charge_point_id, transaction_id
            )
            if tx is not None and tx.active:
                self._track(tx)
        created = tx is None
        # The token that authorizes the transaction arrives with its first event that has one:
        # only then may it be ConcurrentTx (later events of the same transaction are not).
        authorizing = token is not None and (tx is None or tx.id_token is None)
        authorization = None
        if token is not None:
            authorization = await self.identity.authorize(
                charge_point_id,
                token,
                evse_id=evse_id or (tx.evse_id if tx is not None else None) or None,
                starting=authorizing,
            )
        if tx is None:
            tx = Transaction(
                id=uuid.uuid4().hex,
                charge_point_id=charge_point_id,
                transaction_id=transaction_id,
                evse_id=evse_id or 0,
                connector_id=connector_id or 1,
                started_at=timestamp,
                id_token=token,
                offline=offline,
            )
            if tx.evse_id:
                self._replace_open(charge_point_id, tx.evse_id, transaction_id, timestamp)
            self._track(tx)
            self.samples.begin((charge_point_id, tx.evse_id, tx.id))
        seen = self._seen_seq_nos.setdefault(tx.id, set())
        if seq_no in seen:
            self.recorder.transaction(tx)  # a repeat: a first attempt may not have been stored
            return authorization
        seen.add(seq_no)
        if evse_id and not tx.evse_id:
            tx.evse_id, tx.connector_id = evse_id, connector_id or tx.connector_id
        if token is not None and tx.id_token is None:
            tx.id_token = token
        tx.offline = tx.offline or offline
        if (
            authorizing
            and authorization is not None
            and authorization.status is not AuthorizationStatus.ACCEPTED
        ):
            self._deauthorized(tx, authorization)
        if remote_start_id is not None:
            tx.remote_start_id = remote_start_id
        tx.last_seq_no = max(tx.last_seq_no, seq_no)
        if event_type == "Started" or timestamp < tx.started_at:
            tx.started_at = min(tx.started_at, timestamp)
        for sample in samples:
            if sample.context == "Transaction.Begin" and _is_total_register(sample):
                tx.meter_start_wh = energy_wh(sample)
        await self._add_samples(tx, tx.evse_id, tx.connector_id, samples)
        if created:
            self._publish(TransactionStarted(tx))
        stop = next(
            (energy_wh(s) for s in samples if s.context == "Transaction.End"
             and _is_total_register(s)),
            None,
        )  # fmt: skip
        if event_type == "Ended" and tx.active:
            self._end(tx, timestamp, stop, stopped_reason or "Local")
        elif event_type == "Ended" and tx.closed_reason is not None:
            self._correct_end(tx, timestamp, stop, stopped_reason or "Local")
        else:
            self.recorder.transaction(tx)
        return authorization

    async def meter_values(
        self,
        charge_point_id: str,
        evse_id: int,
        connector_id: int,
        transaction_id: str | None,
        samples: Sequence[MeterSample],
    ) -> None:
        """Samples outside a TransactionEvent; tied to the named or the running transaction.

        Samples already stored (a repeated message) are not stored again; a database read only
        when a message repeats or arrives out of order (``ems.samples``).
        """
        tx = None
        if transaction_id is not None:
            tx = self._by_wire_id.get((charge_point_id, transaction_id))
            if tx is None:  # one ems no longer holds (ended before a restart): still its samples
                tx = await asyncio.to_thread(
                    self.store.find_transaction, charge_point_id, transaction_id
                )
        elif evse_id:
            tx = next(iter(self._open_on(charge_point_id, evse_id)), None)
            if tx is not None and samples and samples[0].timestamp < tx.started_at:
                tx = None
        if tx is not None:
            await self._add_samples(tx, evse_id, connector_id, samples)
            self.recorder.transaction(tx)
            return
        fresh = await self.samples.new_only((charge_point_id, evse_id, None), connector_id, samples)
        if fresh:
            self.recorder.samples(charge_point_id, evse_id, connector_id, None, fresh)
            self._publish(MeterValuesReceived(charge_point_id, evse_id, connector_id, None, fresh))

    def charging_needs(self, event: ChargingNeedsReported) -> None:
        self.recorder.event(
            event.charge_point_id,
            "ev_charging_needs",
            self.clock(),
            {
                "evse_id": event.evse_id,
                "departure_time": event.departure_time.isoformat()
                if event.departure_time
                else None,
                "energy_amount_wh": event.energy_amount_wh,
                "max_current_a": event.max_current_a,
                "max_power_w": event.max_power_w,
                "energy_transfer_mode": event.energy_transfer_mode,
            },
        )
        self._publish(event)

    def record_settings(
        self, charge_point_id: str, values: Iterable[tuple[VariableRef, str | None, bool | None]]
    ) -> None:
        """Configuration keys (1.6) or device-model variables (2.0.1) as reported.

        A secret (``AuthorizationKey``, ``BasicAuthPassword``, ...) is stored as "***": the
        operator sees that it is set, the database never holds it.
        """
        now = self.clock()
        rows = [
            SettingRow(
                charge_point_id=charge_point_id,
                component=ref.component,
                variable=ref.variable,
                instance=ref.instance or "",
                evse_id=ref.evse_id or 0,
                attribute_type=ref.attribute_type,
                value=REDACTED if value is not None and is_secret_name(ref.variable) else value,
                readonly=readonly,
                updated_at=now,
            )
            for ref, value, readonly in values
        ]
        self.recorder.settings(charge_point_id, rows)

    def report(self, charge_point_id: str, kind: str, payload: dict[str, object]) -> None:
        """A notification kept for audit: firmware/diagnostics/log status, security events ..."""
        self.recorder.event(charge_point_id, kind, self.clock(), payload)

    # ---- queries -----------------------------------------------------------------------------

    def open_transactions(self, charge_point_id: str | None = None) -> list[Transaction]:
        if charge_point_id is not None:
            return list(self._open.get(charge_point_id, {}).values())
        return [tx for txs in self._open.values() for tx in txs.values()]

    def transaction(self, charge_point_id: str, transaction_id: str) -> Transaction | None:
        return self._by_wire_id.get((charge_point_id, transaction_id))

    # ---- internals ---------------------------------------------------------------------------

    def _track(self, tx: Transaction) -> None:
        self._by_wire_id[(tx.charge_point_id, tx.transaction_id)] = tx
        if tx.active:
            self._open.setdefault(tx.charge_point_id, {})[tx.id] = tx

    def _open_on(self, charge_point_id: str, evse_id: int) -> Iterable[Transaction]:
        return [tx for tx in self._open.get(charge_point_id, {}).values() if tx.evse_id == evse_id]

    async def _add_samples(
        self, tx: Transaction, evse_id: int, connector_id: int, samples: Sequence[MeterSample]
    ) -> None:
        """Store the samples not stored yet; track the energy register and flag a register
        that reads negative or goes backwards (kept as sent, marked for review)."""
        samples = await self.samples.new_only(
            (tx.charge_point_id, evse_id, tx.id), connector_id, samples
        )
        if not samples:
            return
        first_at, last_at = self._register_times.get(tx.id, (None, None))
        if first_at is None and tx.first_energy_register_wh is not None:
            # a transaction from the database (after a restart): its first reading is stored,
            # only one taken before its start could be earlier
            first_at = tx.started_at
        for sample in samples:
            if not _is_total_register(sample):
                continue
            wh = energy_wh(sample)
            last_wh = tx.last_energy_register_wh
            if wh < 0:
                self._anomaly(tx, "register_negative", f"energy register reads {wh:g} Wh", sample)
            elif (
                last_at is not None
                and last_wh is not None
                and sample.timestamp > last_at
                and wh < last_wh - REGISTER_TOLERANCE_WH
            ):
                self._anomaly(
                    tx, "register_backwards",
                    f"energy register went back from {last_wh:g} to {wh:g} Wh", sample,
                )  # fmt: skip
            if first_at is None or sample.timestamp < first_at:
                first_at, tx.first_energy_register_wh = sample.timestamp, wh
            if last_at is None or sample.timestamp >= last_at:
                last_at, tx.last_energy_register_wh = sample.timestamp, wh
        if first_at is not None and last_at is not None:
            self._register_times[tx.id] = (first_at, last_at)
        self.recorder.samples(tx.charge_point_id, evse_id, connector_id, tx.id, samples)
        self._publish(
            MeterValuesReceived(tx.charge_point_id, evse_id, connector_id, tx.id, samples)
        )

    def _end(
        self,
        tx: Transaction,
        timestamp: datetime,
        meter_stop_wh: float | None,
        reason: str,
        closed_reason: str | None = None,
    ) -> None:
        tx.stopped_at = timestamp
        tx.stop_reason = reason
        tx.closed_reason = closed_reason
        if meter_stop_wh is not None:
            tx.meter_stop_wh = meter_stop_wh
            start = tx.meter_start_wh
            if start is not None and meter_stop_wh < start - REGISTER_TOLERANCE_WH:
                self._anomaly(
                    tx, "register_backwards",
                    f"meter stop {meter_stop_wh:g} Wh is below meter start {start:g} Wh", None,
                )  # fmt: skip
        self._open.get(tx.charge_point_id, {}).pop(tx.id, None)
        self._register_times.pop(tx.id, None)
        self.samples.end((tx.charge_point_id, tx.evse_id, tx.id))
        self._recently_ended[tx.id] = tx
        while len(self._recently_ended) > RECENTLY_ENDED:
            _, old = self._recently_ended.popitem(last=False)
            self._by_wire_id.pop((old.charge_point_id, old.transaction_id), None)
            self._seen_seq_nos.pop(old.id, None)
        self.recorder.transaction(tx)
        self._publish(TransactionEnded(tx))

    def _correct_end(
        self, tx: Transaction, timestamp: datetime, meter_stop_wh: float | None, reason: str
    ) -> None:
        """The charger's own end of a transaction ems had closed (reconciliation): its time,
        reading and reason replace the ones ems assumed."""
        log.info(
            "%s: transaction %s, closed by ems (%s), now ended by the charge point",
            tx.charge_point_id, tx.transaction_id, tx.closed_reason,
        )  # fmt: skip
        tx.stopped_at, tx.stop_reason, tx.closed_reason = timestamp, reason, None
        if meter_stop_wh is not None:
            tx.meter_stop_wh = meter_stop_wh
        self.recorder.transaction(tx)

    def _replace_open(
        self, charge_point_id: str, evse_id: int, transaction_id: str, timestamp: datetime
    ) -> None:
        """A new transaction starts on an EVSE: one still open there has ended unseen."""
        for stale in self._open_on(charge_point_id, evse_id):
            if stale.started_at > timestamp:
                continue  # a later one: this start is late (an offline queue), not a successor
            log.warning(
                "%s: transaction %s left open, closed by the start of %s on EVSE %d",
                charge_point_id, stale.transaction_id, transaction_id, evse_id,
            )  # fmt: skip
            self._end(
                stale, timestamp, None, "Other",
                f"replaced: transaction {transaction_id} started on EVSE {evse_id}",
            )  # fmt: skip

    async def close_transaction(self, tx: Transaction, closed_reason: str) -> None:
        """End a transaction the charge point no longer has (reconciliation).

        Its end is assumed at its last meter sample (at its start without any): the latest
        time it is known to have run. The charge point's own stop, should it still come,
        replaces what ems assumed.
        """
        if not tx.active:
            return
        stored = await asyncio.to_thread(self.store.last_sample_at, tx.id)
        _, in_memory = self._register_times.get(tx.id, (None, None))
        known = [at for at in (stored, in_memory) if at is not None]
        ended_at = max([tx.started_at, *known])
        if not tx.active:  # its stop came in meanwhile
            return
        log.warning(
            "%s: transaction %s closed by ems: %s",
            tx.charge_point_id, tx.transaction_id, closed_reason,
        )  # fmt: skip
        self._end(tx, ended_at, None, "Other", closed_reason)

    def no_transaction(
        self, charge_point_id: str, evse_id: int, at: datetime, evidence: str
    ) -> None:
        """The charge point says no transaction runs on ``evse_id`` as of ``at`` (1.6: the
        connector is Available). Published for the reconciler, which closes the transactions
        that started before if their own stop does not come soon."""
        if any(tx.started_at < at for tx in self._open_on(charge_point_id, evse_id)):
            self._publish(NoTransactionReported(charge_point_id, evse_id, at, evidence))

    def forget_unstored(self, charge_point_id: str) -> None:
        """A message of this charge point could not be stored: forget what memory says was
        stored from it (samples, 2.0.1 sequence numbers), so that its resend is written."""
        self.samples.forget(charge_point_id)
        for tx in self._open.get(charge_point_id, {}).values():
            self._seen_seq_nos.pop(tx.id, None)
        for tx in self._recently_ended.values():
            if tx.charge_point_id == charge_point_id:
                self._seen_seq_nos.pop(tx.id, None)

    def _anomaly(
        self, tx: Transaction, kind: str, description: str, sample: MeterSample | None
    ) -> None:
        if tx.anomaly is None:
            tx.anomaly = description
        self.flag(tx.charge_point_id, kind, {
            "transaction_pk": tx.id, "transaction_id": tx.transaction_id,
            "description": description,
            "timestamp": sample.timestamp.isoformat() if sample is not None else None,
        })  # fmt: skip
