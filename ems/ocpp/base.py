"""What both OCPP edges share on top of the RPC layer: the link to the central system."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ocpp.exceptions import SecurityError

from ems.csms import CentralSystem
from ems.domain import CommandError, CommandResult, OcppVersion, Registration
from ems.ocpp.rpc import RpcSession


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
                recorder.frame(charge_point_id, direction, timestamp, text)

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

    async def close(self, reason: str) -> None:
        """Close the WebSocket (normal closure) and fail calls still waiting for an answer."""
        self.connection_lost()
        await self._close(1000, reason)

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
