"""What both OCPP edges share on top of the RPC layer: the link to the central system."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from ocpp.exceptions import InternalError, SecurityError

from ems.csms import CentralSystem
from ems.domain import CommandError, CommandResult, OcppVersion, Registration
from ems.ocpp.redact import redact_frame
from ems.ocpp.rpc import RpcSession
from ems.store.units import WriteFailed

# How long closing a connection waits for the message being handled to be answered [s].
CLOSE_GRACE_S = 10.0


class CsmsSession(RpcSession):
    """A charge point's connection, reporting to the central system."""

    def __init__(
        self,
        csms: CentralSystem,
        charge_point_id: str,
        send: Callable[[str], Awaitable[None]],
        close: Callable[[int, str], Awaitable[None]],
    ) -> None:
        log_frame = None
        if csms.settings.ocpp.log_frames:
            recorder = csms.recorder

            def log_frame(direction: str, timestamp: Any, text: str) -> None:
                # credentials sent to (or reported by) the charger stay out of the log; a NUL
                # (only in a frame that is refused) is escaped: PostgreSQL text cannot hold it
                if "\x00" in text:
                    text = text.replace("\x00", "\\u0000")
                recorder.frame(charge_point_id, direction, timestamp, redact_frame(text))

        super().__init__(
            charge_point_id,
            send,
            clock=csms.clock,
            log_frame=log_frame,
            response_timeout_s=csms.settings.ocpp.call_timeout_s,
        )
        self.csms = csms
        self._close = close

    @property
    def version(self) -> OcppVersion:
        return self.ocpp_version

    async def close(self, reason: str, code: int = 1000) -> None:
        """Close the WebSocket and fail calls still waiting for an answer.

        A message being handled is finished first (committed and answered, within
        ``CLOSE_GRACE_S``), so that closing never cuts between a commit and its answer; frames
        arriving meanwhile are not handled (the charger sends them again after reconnecting).
        """
        self.closing = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), CLOSE_GRACE_S)
        self.connection_lost()
        await self._close(code, reason)

    def boot_interval_s(self, registration: Registration) -> int:
        """Heartbeat interval when accepted; when to retry the boot otherwise."""
        ocpp = self.csms.settings.ocpp
        if registration is Registration.ACCEPTED:
            return ocpp.heartbeat_interval_s
        return ocpp.pending_retry_interval_s

    def require_accepted(self) -> None:
        """Refuse transaction messages until the CSMS has accepted the charge point (B02/B03)."""
        registration = self.csms.registration(self.id)
        if registration is not Registration.ACCEPTED:
            raise SecurityError(
                details={"cause": f"charge point registration is {registration.value}"}
            )

    def require_not_rejected(self) -> None:
        if self.csms.registration(self.id) is Registration.REJECTED:
            raise SecurityError(details={"cause": "charge point registration is Rejected"})

    async def send_profile(
        self, action: str, payload: dict[str, Any], evse_id: int, profile: dict[str, Any]
    ) -> CommandResult:
        """Send a profile and record it with the charger's answer, whatever that is."""
        sent_at = self.csms.clock()
        try:
            result = await self.request(action, payload)
        except CommandError as error:
            self.csms.recorder.profile(self.id, evse_id, profile, sent_at, None, str(error))
            raise
        self.csms.recorder.profile(self.id, evse_id, profile, sent_at, result.status, None)
        return result

    async def handle(self, handler: Callable[..., Awaitable[Any]], kwargs: dict[str, Any]) -> Any:
        """Commit before acknowledge: everything the message writes is committed before its
        answer goes out. If it cannot be stored, the charger gets an InternalError and keeps
        the message (it sends it again), instead of an answer that would make it delete it."""
        recorder = self.csms.recorder
        with recorder.unit() as unit:
            try:
                result = await handler(**kwargs)
            except BaseException:
                recorder.submit(unit)  # what it changed in memory before failing is kept
                raise
        try:
            await recorder.commit(unit)
        except WriteFailed as error:
            self.csms.forget_unstored(self.id)
            raise InternalError(
                description="ems could not store the message; send it again",
                details={"cause": str(error)},
            ) from None
        return result

    async def after_reply(self, action: str, answer: dict[str, Any]) -> None:
        if action == "BootNotification" and answer.get("status") == Registration.ACCEPTED:
            self.csms.accepted(self.id)

    # ---- commands that read the same in every version ----------------------------------

    async def get_local_list_version(self) -> CommandResult:
        result = await self.request("GetLocalListVersion", {})
        return CommandResult(status="Accepted", payload=result.payload)

    async def clear_cache(self) -> CommandResult:
        return await self.request("ClearCache", {})

    async def data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: str | None = None
    ) -> CommandResult:
        payload: dict[str, Any] = {"vendorId": vendor_id}
        if message_id is not None:
            payload["messageId"] = message_id
        if data is not None:
            payload["data"] = data
        return await self.request("DataTransfer", payload)
