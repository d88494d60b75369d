"""The QR flow behind the driver's pages: price, start, progress, stop, final payment.

::

    start(code, request)        checks, hold (PaymentProvider.authorize_hold), one-time token,
      |                         then in the background: RemoteStart / RequestStartTransaction
      v                         and wait for TransactionStarted with that token
    starting --(refused, error, timeout)--> failed     (hold voided, token blocked)
      | TransactionStarted
      v                         the driver's departure and energy go to the control loop
    charging                    every few seconds: running cost; a station stops when the cost
      | TransactionEnded        reaches the hold; 2.0.1 stations get CostUpdated
      v
    completed                   final cost from the meter samples, hold captured for it (the
                                rest released), receipt stored
    review                      instead of completed when the meter data is implausible (a
                                register went backwards, ...): nothing is captured until an
                                operator settles it (:meth:`DriverService.settle`)

Errors the driver can fix are :class:`DriverError`s naming the form field. The link secret
never reaches a log line: sessions are logged by their public id.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING, Any

from ems.control.measurements import ENERGY
from ems.domain import (
    CallErrorReceived,
    CommandError,
    ConnectorStatus,
    IdToken,
    MeterSample,
    OcppVersion,
    Transaction,
)
from ems.driver.codes import new_secret, new_token_id, parse_code, secret_hash
from ems.driver.repository import DriverRepository, DriverSession
from ems.events import Event, TransactionEnded, TransactionStarted
from ems.identity import Location, TokenRecord, TokenStatus, TokenType, decide
from ems.payments import Money, PaymentError, PaymentProvider
from ems.payments.provider import LedgerPaymentProvider
from ems.receipts import Receipt, build_receipt
from ems.tariffs import CostBreakdown, Tariff
from ems.web.api import energy_register

if TYPE_CHECKING:
    from ems.app import Ems

log = logging.getLogger(__name__)

POWER = "Power.Active.Import"
UNAVAILABLE = {ConnectorStatus.FAULTED, ConnectorStatus.UNAVAILABLE}


@dataclass(frozen=True, slots=True)
class DriverSettings:
    """Limits and timings of the QR flow.

    ``start_timeout_s`` [wall s]: how long a start may take from the RemoteStart until the
    transaction begins (the driver may plug in after pressing start). ``token_ttl_s`` [s of the
    ems clock]: the one-time token's validity. The hold is the estimate times ``hold_margin``,
    rounded up to a whole currency unit, at least ``min_hold`` (tariff currency).
    ``cost_update_interval_s`` [s of the ems clock]: how often a 2.0.1 station gets CostUpdated.
    """

    start_timeout_s: float = 180.0
    token_ttl_s: float = 900.0
    hold_margin: Decimal = Decimal("1.25")
    min_hold: Decimal = Decimal("10")
    max_stay_h: float = 48.0
    max_energy_kwh: float = 300.0
    monitor_interval_s: float = 5.0
    cost_update_interval_s: float = 120.0
    operator: str = "ems"


class DriverError(Exception):
    """Something the driver (or the situation) must change; ``status`` is the HTTP answer."""

    def __init__(self, message: str, *, field: str | None = None, status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


@dataclass(frozen=True, slots=True)
class Connector:
    """A connector as the driver's page shows it."""

    code: str
    charge_point_id: str
    evse_id: int
    site_id: str
    site_name: str
    tariff: Tariff
    status: ConnectorStatus | None
    online: bool
    busy: bool

    @property
    def startable(self) -> bool:
        return self.online and not self.busy and self.status not in UNAVAILABLE


@dataclass(frozen=True, slots=True)
class StartRequest:
    """What the driver entered: departure, energy, and how to pay.

    ``method`` is ``account`` (``account_token``: the id of a card or key the operator issued
    with a wallet or fleet account) or ``card`` (``card_payment_method``: what the card
    processor's payment form produced).
    """

    departure: datetime
    energy_kwh: float
    method: str
    account_token: str | None = None
    card_payment_method: str | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    """A session as its page shows it; ``cost`` is the running cost (final once completed)."""

    session: DriverSession
    transaction: Transaction | None
    energy_kwh: float
    power_w: float | None
    cost: CostBreakdown | None
    receipt: Receipt | None


class DriverService:
    """The QR flow of one ems (see the module docstring)."""

    def __init__(
        self,
        ems: Ems,
        settings: DriverSettings | None = None,
        *,
        providers: dict[str, PaymentProvider] | None = None,
    ) -> None:
        self.ems = ems
        self.settings = settings or DriverSettings()
        self.providers: dict[str, PaymentProvider] = providers or {
            "account": LedgerPaymentProvider(ems.ledger)
        }
        self.repository = DriverRepository(ems.store.engine)
        self._waiters: dict[str, asyncio.Future[Transaction]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._monitor: asyncio.Task[None] | None = None
        self._stop_requested: set[str] = set()
        self._cost_sent_at: dict[str, datetime] = {}
        self._no_cost_updates: set[str] = set()
        self._recovered = False
        self._unsubscribe = ems.csms.subscribe(self._on_event)

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def clock(self) -> Any:
        return self.ems.csms.clock

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Stop following events and cancel the background work."""
        self._unsubscribe()
        tasks = [*self._tasks, *([self._monitor] if self._monitor else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _on_event(self, event: Event) -> None:
        if not self._recovered:
            self._recovered = True
            self._spawn(self.recover())
        if isinstance(event, TransactionStarted):
            token = event.transaction.id_token
            if token is not None:
                waiter = self._waiters.get(token.id.casefold())
                if waiter is not None and not waiter.done():
                    waiter.set_result(event.transaction)
        elif isinstance(event, TransactionEnded):
            self._spawn(self._ended(event.transaction))

    async def recover(self) -> None:
        """After a restart: settle sessions whose start or end happened while ems was down."""
        self._recovered = True
        for session in await asyncio.to_thread(self.repository.sessions_in, "starting"):
            if session.id_token.casefold() not in self._waiters:
                await self._fail(session, "ems restarted before the charger started")
        for session in await asyncio.to_thread(self.repository.sessions_in, "charging"):
            tx = await self._transaction(session)
            if tx is not None and not tx.active:
                await self._finish(session)
        self._ensure_monitor()

    # -- the connector page ----------------------------------------------------------------

    async def connector(self, code: str) -> Connector:
        """The connector behind a printed code; DriverError 404 for an unknown one."""
        try:
            canonical = parse_code(code)
        except ValueError as error:
            raise DriverError(str(error), field="code", status=404) from None
        found = await asyncio.to_thread(self.repository.connector_of, canonical)
        if found is None:
            raise DriverError(f"no connector has the code {canonical}", field="code", status=404)
        charge_point_id, evse_id = found
        control = self.ems.control
        site_id = control.site_of(charge_point_id, evse_id) if control is not None else None
        if control is None or site_id is None:
            raise DriverError(
                f"connector {canonical} is on no site with a tariff", field="code", status=404
            )
        site = control.sites[site_id]
        csms = self.ems.csms
        state = csms.charge_points.get(charge_point_id)
        report = None
        if state is not None:
            reports = [r for (e, _), r in state.connectors.items() if e == evse_id]
            report = max(reports, key=lambda r: r.timestamp) if reports else None
        busy = any(tx.evse_id == evse_id for tx in csms.open_transactions(charge_point_id))
        return Connector(
            code=canonical,
            charge_point_id=charge_point_id,
            evse_id=evse_id,
            site_id=site_id,
            site_name=site.name,
            tariff=site.tariff,
            status=report.status if report is not None else None,
            online=charge_point_id in csms.sessions,
            busy=busy,
        )

    def hold_amount(self, tariff: Tariff, estimate: CostBreakdown) -> Money:
        """What is held for a session estimated at ``estimate``: with margin, whole units up."""
        wanted = max(estimate.total * self.settings.hold_margin, self.settings.min_hold)
        return Money.of(wanted.to_integral_value(rounding=ROUND_CEILING), tariff.currency)

    def estimate(
        self, connector: Connector, departure: datetime, energy_kwh: float
    ) -> tuple[CostBreakdown, Money]:
        """The price estimate and the hold for a stay until ``departure`` with ``energy_kwh``."""
        now = self.clock()
        if departure.tzinfo is None:
            raise DriverError("needs a time zone", field="departure")
        stay_s = (departure - now).total_seconds()
        if stay_s < 60:
            raise DriverError("must be at least a minute from now", field="departure")
        if stay_s > self.settings.max_stay_h * 3600:
            raise DriverError(
                f"must be within {self.settings.max_stay_h:g} hours", field="departure"
            )
        if not 0 < energy_kwh <= self.settings.max_energy_kwh:
            raise DriverError(
                f"must be more than 0 and at most {self.settings.max_energy_kwh:g} kWh",
                field="energy_kwh",
            )
        estimate = connector.tariff.estimate(energy_kwh, now, stay_s)
        return estimate, self.hold_amount(connector.tariff, estimate)

    # -- start ---------------------------------------------------------------------------

    async def _payer(self, connector: Connector, request: StartRequest) -> tuple[str, str]:
        """(provider name, payer) for the request; DriverError naming the field otherwise."""
        if request.method == "account":
            token = (request.account_token or "").strip()
            if not token:
                raise DriverError("enter the code of your card or account", field="account")
            facts = await self.ems.csms.identity.facts(token)
            answer = decide(
                facts,
                charge_point_id=connector.charge_point_id,
                now=self.clock(),
                accept_unknown=False,
                evse_id=connector.evse_id,
            )
            account = None
            if facts is not None:
                account = facts.record.account_id or (
                    facts.group.account_id if facts.group is not None else None
                )
            if str(answer.status) != "Accepted" or account is None or not facts:
                raise DriverError(
                    "this card or account cannot pay here", field="account", status=402
                )
            return "account", account
        if request.method == "card":
            if "card" not in self.providers:
                raise DriverError("card payment is not offered here", field="method")
            method = (request.card_payment_method or "").strip()
            if not method:
                raise DriverError("the card details are missing", field="card")
            return "card", method
        raise DriverError("choose how to pay: account or card", field="method")

    async def start(self, code: str, request: StartRequest) -> tuple[str, DriverSession]:
        """Hold the payment and start charging; returns the link secret and the session.

        The RemoteStart and the wait for the transaction go on in the background; the session's
        page follows them. A refused payment or a bad field raises DriverError and holds nothing.
        """
        connector = await self.connector(code)
        if not connector.startable:
            why = "offline" if not connector.online else "in use or out of service"
            raise DriverError(f"this connector is {why}", status=409)
        _, hold = self.estimate(connector, request.departure, request.energy_kwh)
        provider_name, payer = await self._payer(connector, request)
        now = self.clock()
        secret = new_secret()
        session = DriverSession(
            id="ds_" + secrets.token_hex(8),
            secret_hash=secret_hash(secret),
            charge_point_id=connector.charge_point_id,
            evse_id=connector.evse_id,
            site_id=connector.site_id,
            tariff_id=connector.tariff.id,
            id_token=new_token_id(),
            remote_start_id=secrets.randbelow(2**31 - 1) + 1,
            payment_method=provider_name,
            payer=payer if provider_name == "account" else None,
            hold_id=None,
            hold_minor=hold.minor,
            currency=hold.currency,
            departure_at=request.departure,
            energy_kwh=request.energy_kwh,
            state="starting",
            error=None,
            transaction_pk=None,
            created_at=now,
            updated_at=now,
        )
        await asyncio.to_thread(self.repository.add_session, session)
        try:
            placed = await self.providers[provider_name].authorize_hold(
                payer, hold, f"driver:{session.id}:hold", reference=session.id
            )
        except PaymentError as error:
            await self._update(session, state="failed", error=f"payment refused: {error}")
            field = "account" if provider_name == "account" else "card"
            raise DriverError(f"payment refused: {error}", field=field, status=402) from None
        session = await self._update(session, hold_id=placed.id)
        record = TokenRecord(
            id_token=session.id_token,
            type=TokenType.CENTRAL,
            expires_at=now + timedelta(seconds=self.settings.token_ttl_s),
            account_id=session.payer,
            valid_at=(Location(connector.charge_point_id, connector.evse_id),),
            label=f"QR start {session.id}",
        )
        await asyncio.to_thread(self.ems.csms.identity.repository.create, record, now)
        waiter: asyncio.Future[Transaction] = asyncio.get_running_loop().create_future()
        self._waiters[session.id_token.casefold()] = waiter
        self._spawn(self._launch(session, waiter))
        log.info("driver session %s: starting on %s/%d", session.id, *_where(session))
        return secret, session

    async def _launch(self, session: DriverSession, waiter: asyncio.Future[Transaction]) -> None:
        try:
            commands = self.ems.csms.commands(session.charge_point_id)
            result = await commands.remote_start(
                IdToken(session.id_token, TokenType.CENTRAL.value),
                session.evse_id,
                remote_start_id=session.remote_start_id,
            )
            if result.status != "Accepted":
                await self._fail(session, f"the charger refused to start ({result.status})")
                return
            tx = await asyncio.wait_for(waiter, self.settings.start_timeout_s)
        except TimeoutError:
            await self._fail(session, "the charging did not begin in time")
            return
        except CommandError as error:
            await self._fail(session, f"the charger could not be reached ({error})")
            return
        finally:
            self._waiters.pop(session.id_token.casefold(), None)
        await self._began(session, tx)

    async def _began(self, session: DriverSession, tx: Transaction) -> None:
        session = await self._update(session, state="charging", transaction_pk=tx.id)
        control = self.ems.control
        if control is not None:
            control.set_driver_needs(
                tx.id, tx.charge_point_id, tx.evse_id, session.departure_at, session.energy_kwh
            )
        log.info("driver session %s: charging (transaction %s)", session.id, tx.id)
        self._ensure_monitor()
        if not tx.active:  # it ended before we got here
            await self._finish(session)

    async def _fail(self, session: DriverSession, reason: str) -> None:
        """Void the hold and block the one-time token (a late start is then refused)."""
        log.info("driver session %s: start failed: %s", session.id, reason)
        if session.hold_id is not None:
            try:
                await self.providers[session.payment_method].void(
                    session.hold_id, f"driver:{session.id}:void"
                )
            except PaymentError:
                log.exception("driver session %s: voiding the hold failed", session.id)
        repository = self.ems.csms.identity.repository
        record = await asyncio.to_thread(repository.get, session.id_token)
        if record is not None:
            blocked = dataclasses.replace(record, status=TokenStatus.BLOCKED)
            await asyncio.to_thread(repository.replace, blocked, self.clock())
        await self._update(session, state="failed", error=reason)

    async def _update(self, session: DriverSession, **values: Any) -> DriverSession:
        return await asyncio.to_thread(
            self.repository.update_session, session.id, self.clock(), **values
        )

    # -- during and after ----------------------------------------------------------------

    async def session(self, secret: str) -> DriverSession:
        found = await asyncio.to_thread(self.repository.session_by_secret, secret_hash(secret))
        if found is None:
            raise DriverError("no such session", status=404)
        return found

    async def _transaction(self, session: DriverSession) -> Transaction | None:
        if session.transaction_pk is None:
            return None
        for tx in self.ems.csms.open_transactions(session.charge_point_id):
            if tx.id == session.transaction_pk:
                return tx
        await self.ems.recorder.barrier()
        return await asyncio.to_thread(self.ems.store.get_transaction, session.transaction_pk)

    def _tariff(self, session: DriverSession) -> Tariff:
        control = self.ems.control
        if control is None or session.site_id not in control.sites:
            raise DriverError(f"site {session.site_id} is no longer controlled", status=503)
        return control.sites[session.site_id].tariff

    async def _cost(
        self, session: DriverSession, tx: Transaction
    ) -> tuple[CostBreakdown, list[MeterSample]]:
        await self.ems.recorder.barrier()
        samples = await asyncio.to_thread(self.ems.store.samples_of, tx.id)
        energy = [s for s in samples if s.measurand == ENERGY]
        cost = self._tariff(session).session_cost(
            energy_register(tx, energy), tx.started_at, tx.stopped_at, self.clock()
        )
        return cost, samples

    async def progress(self, secret: str) -> Progress:
        """Where the session stands: state, energy, power, cost, and the receipt at the end."""
        session = await self.session(secret)
        tx = await self._transaction(session)
        cost: CostBreakdown | None = None
        power_w: float | None = None
        if tx is not None:
            cost, samples = await self._cost(session, tx)
            powers = [s for s in samples if s.measurand == POWER and s.phase is None]
            if powers and tx.active:
                last = powers[-1]
                power_w = last.value * 1000.0 if last.unit == "kW" else last.value
            elif not tx.active:
                power_w = 0.0
        receipt = None
        if session.state == "completed":
            receipt = await asyncio.to_thread(self.repository.receipt_of, session.id)
        energy_kwh = float(cost.energy_kwh) if cost is not None else 0.0
        return Progress(session, tx, energy_kwh, power_w, cost, receipt)

    async def stop(self, secret: str) -> DriverSession:
        """Ask the charger to stop the session's transaction (RemoteStop)."""
        session = await self.session(secret)
        if session.state != "charging":
            raise DriverError(f"the session is {session.state}, not charging", status=409)
        tx = await self._transaction(session)
        if tx is None or not tx.active:
            return session
        await self._remote_stop(session, tx, "driver")
        return session

    async def _remote_stop(self, session: DriverSession, tx: Transaction, why: str) -> None:
        try:
            result = await self.ems.csms.commands(tx.charge_point_id).remote_stop(
                tx.transaction_id
            )
        except CommandError as error:
            raise DriverError(f"the charger could not be reached ({error})", status=502) from None
        if result.status != "Accepted":
            raise DriverError(f"the charger refused to stop ({result.status})", status=502)
        self._stop_requested.add(session.id)
        log.info("driver session %s: stop requested (%s)", session.id, why)

    async def _ended(self, tx: Transaction) -> None:
        found = await asyncio.to_thread(self._session_of_transaction, tx.id)
        if found is not None and found.state == "charging":
            await self._finish(found)

    def _session_of_transaction(self, transaction_pk: str) -> DriverSession | None:
        for session in self.repository.sessions_in("charging"):
            if session.transaction_pk == transaction_pk:
                return session
        return None

    async def _finish(self, session: DriverSession) -> None:
        """Final cost from the meter samples, capture it (at most the hold), store the receipt.

        A transaction with implausible meter data is not billed blindly: the session waits in
        ``review`` for an operator, with its hold kept.
        """
        tx = await self._transaction(session)
        if tx is None or tx.active or session.hold_id is None:
            return
        if tx.anomaly is not None:
            await self._update(session, state="review", error=tx.anomaly)
            log.warning("driver session %s: held for review: %s", session.id, tx.anomaly)
            return
        await self._capture(session, tx, None)

    async def settle(self, session_id: str, amount: Decimal | None) -> DriverSession:
        """An operator's decision on a session in ``review``: capture ``amount`` (at most the
        hold; None: the cost computed from the meter samples) and issue the receipt."""
        session = await asyncio.to_thread(self.repository.session, session_id)
        if session is None:
            raise DriverError(f"no driver session {session_id!r}", status=404)
        if session.state != "review":
            raise DriverError(f"session {session_id} is {session.state}, not in review", status=409)
        tx = await self._transaction(session)
        if tx is None or session.hold_id is None:
            raise DriverError(f"session {session_id} has no transaction or hold", status=409)
        if amount is not None and amount < 0:
            raise DriverError("amount must not be negative", field="amount")
        await self._capture(session, tx, amount)
        settled = await asyncio.to_thread(self.repository.session, session_id)
        assert settled is not None
        return settled

    async def _capture(
        self, session: DriverSession, tx: Transaction, decided: Decimal | None
    ) -> None:
        assert session.hold_id is not None
        cost, _ = await self._cost(session, tx)
        total = Money.of(cost.total if decided is None else decided, cost.currency)
        held = Money(session.hold_minor, session.currency)
        amount = min(total, held)
        payment = await self.providers[session.payment_method].capture(
            session.hold_id, amount, f"driver:{session.id}:capture"
        )
        tariff = self._tariff(session)
        control = self.ems.control
        site_name = control.sites[session.site_id].name if control is not None else ""
        now = self.clock()
        receipt = build_receipt(
            cost,
            number=f"R-{now:%Y%m%d}-{session.id[3:11].upper()}",
            issued_at=now,
            operator=self.settings.operator,
            site_name=site_name,
            charge_point_id=tx.charge_point_id,
            evse_id=tx.evse_id,
            transaction_id=tx.transaction_id,
            tariff_name=tariff.name,
            paid=amount.amount,
            payment_method="account" if session.payment_method == "account" else "card",
            payment_id=payment.id,
        )
        await asyncio.to_thread(
            self.repository.add_receipt, session.id, tx.id, receipt, (total.minor, amount.minor)
        )
        await self._update(session, state="completed")
        self._stop_requested.discard(session.id)
        self._cost_sent_at.pop(session.id, None)
        log.info("driver session %s: completed, %s captured", session.id, amount)

    # -- while charging: the hold as a cap, CostUpdated ------------------------------------

    def _ensure_monitor(self) -> None:
        if self._monitor is None or self._monitor.done():
            self._monitor = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            sessions = await asyncio.to_thread(self.repository.sessions_in, "charging")
            if not sessions:
                return
            for session in sessions:
                try:
                    await self._check(session)
                except Exception:
                    log.exception("driver session %s: checking the running cost failed", session.id)
            await asyncio.sleep(self.settings.monitor_interval_s)

    async def _check(self, session: DriverSession) -> None:
        tx = await self._transaction(session)
        if tx is None:
            return
        if not tx.active:
            await self._finish(session)
            return
        cost, _ = await self._cost(session, tx)
        held = Money(session.hold_minor, session.currency)
        if Money.of(cost.total, cost.currency) >= held and session.id not in self._stop_requested:
            await self._remote_stop(session, tx, "the running cost reached the hold")
        await self._cost_updated(session, tx, cost)

    async def _cost_updated(
        self, session: DriverSession, tx: Transaction, cost: CostBreakdown
    ) -> None:
        """Send 2.0.1 CostUpdated with the running total, unless the station does not take it."""
        cp = tx.charge_point_id
        rpc = self.ems.csms.sessions.get(cp)
        if rpc is None or cp in self._no_cost_updates or rpc.version is OcppVersion.V16:
            return
        now = self.clock()
        last = self._cost_sent_at.get(session.id)
        if last is not None and (now - last).total_seconds() < self.settings.cost_update_interval_s:
            return
        self._cost_sent_at[session.id] = now
        payload = {"totalCost": float(cost.total), "transactionId": tx.transaction_id}
        try:
            await rpc.request("CostUpdated", payload)  # type: ignore[attr-defined]
        except CallErrorReceived as error:
            if error.code in ("NotImplemented", "NotSupported"):
                self._no_cost_updates.add(cp)
                log.info("%s does not take CostUpdated (%s): not sent again", cp, error.code)
        except CommandError as error:
            log.info("CostUpdated to %s failed: %s", cp, error)


def _where(session: DriverSession) -> tuple[str, int]:
    return session.charge_point_id, session.evse_id
