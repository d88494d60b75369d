"""OCPP-J RPC on one WebSocket connection: framing, validation, CALLERRORs, outgoing calls.

Builds on the ``ocpp`` package's :class:`ocpp.charge_point.ChargePoint` (its ``@on`` routing and
message types) but owns the per-message path, for three reasons:

* the spec's CALLERRORs: a frame that is not valid OCPP-J gets an answer (with message id "-1"
  when none can be read) instead of being dropped, an unknown action gets NotImplemented, a known
  one without a handler NotSupported, and 1.6 gets FormationViolation where 2.0.1 has
  FormatViolation;
* speed: compiled schema validation on the event loop (``ems.ocpp.schemas``) instead of
  ``jsonschema`` in a thread, and memoized camelCase/snake_case key conversion;
* the raw frame log and clear errors for commands (timeout, CALLERROR, offline).
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

from ocpp.charge_point import ChargePoint as LibraryChargePoint
from ocpp.charge_point import camel_to_snake_case, remove_nones, serialize_as_dict
from ocpp.exceptions import (
    InternalError,
    NotImplementedError,
    NotSupportedError,
    OCPPError,
    ProtocolError,
)

from ems import metrics
from ems.domain import (
    CallErrorReceived,
    ChargePointOffline,
    CommandResult,
    CommandTimeout,
    InvalidCommand,
    OcppVersion,
)
from ems.ocpp import bounds, schemas

log = logging.getLogger(__name__)

CALL, CALL_RESULT, CALL_ERROR = 2, 3, 4
# OCPP messages nest about six levels deep; deeper frames are refused before anything recurses
# over them (about a thousand levels would exhaust Python's recursion limit).
MAX_DEPTH = 32


class RpcFrameworkError(OCPPError):
    """2.0.1: the frame is not a valid RPC message (no readable message id, ...)."""

    code = "RpcFrameworkError"
    default_description = "Content of the call is not a valid RPC request"


class MessageTypeNotSupportedError(OCPPError):
    code = "MessageTypeNotSupported"
    default_description = "A message with this MessageTypeId is not supported"


@lru_cache(maxsize=4096)
def _snake_key(key: str) -> str:
    return next(iter(camel_to_snake_case({key: None})))


def to_snake(data: Any) -> Any:
    """camelCase keys to snake_case, recursively, as the ``ocpp`` package does but memoized."""
    if isinstance(data, dict):
        return {_snake_key(k): to_snake(v) for k, v in data.items()}
    if isinstance(data, list):
        return [to_snake(v) for v in data]
    return data


@lru_cache(maxsize=4096)
def _camel_key(key: str) -> str:
    from ocpp.charge_point import snake_to_camel_case

    return next(iter(snake_to_camel_case({key: None})))


def to_camel(data: Any) -> Any:
    if isinstance(data, dict):
        return {_camel_key(k): to_camel(v) for k, v in data.items()}
    if isinstance(data, list):
        return [to_camel(v) for v in data]
    return data


def too_deep(raw: str, message: Any) -> bool:
    """Whether ``message`` nests deeper than MAX_DEPTH (cheap for ordinary frames: only frames
    with many brackets are walked)."""
    if raw.count("[") + raw.count("{") <= MAX_DEPTH:
        return False
    level: list[tuple[Any, int]] = [(message, 1)]
    while level:
        node, depth = level.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(node, dict):
            level.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            level.extend((child, depth + 1) for child in node)
    return False


def _dumps(message: list[Any]) -> str:
    return json.dumps(message, separators=(",", ":"), default=str)


FrameLogger = Callable[[str, datetime, str], None]
"""Called with (direction "in"/"out", time, frame text) for every frame."""


class RpcSession(LibraryChargePoint):
    """One charge point's connection; subclasses add the ``@on`` handlers of their version."""

    ocpp_version: OcppVersion
    action_enum: type[enum.Enum]

    def __init__(
        self,
        charge_point_id: str,
        send: Callable[[str], Awaitable[None]],
        *,
        clock: Callable[[], datetime],
        log_frame: FrameLogger | None = None,
        response_timeout_s: float = 30.0,
    ) -> None:
        super().__init__(charge_point_id, None, response_timeout=response_timeout_s)
        self._send_text = send
        self._clock = clock
        self._log_frame = log_frame
        self._pending: dict[str, asyncio.Future[list[Any]]] = {}
        self._closed = False
        self.closing = False  # no new frames are handled; the connection is about to close
        self._idle = asyncio.Event()  # set while no incoming frame is being handled
        self._idle.set()
        self._actions = frozenset(action.value for action in self.action_enum)

    # ---- incoming ---------------------------------------------------------------------------

    async def route_message(self, raw_msg: str) -> None:
        """Handle one frame from the charge point; never raises."""
        self._idle.clear()
        try:
            await self._route(raw_msg)
        finally:
            self._idle.set()

    async def _route(self, raw_msg: str) -> None:
        if self._log_frame is not None:
            self._log_frame("in", self._clock(), raw_msg)
        try:
            message = json.loads(raw_msg)
        except ValueError:
            await self._reply_error("-1", self._unparsable("message is not valid JSON"))
            return
        except RecursionError:
            await self._reply_error("-1", self._unparsable(f"nested deeper than {MAX_DEPTH}"))
            return
        if too_deep(raw_msg, message):
            unique_id = message[1] if isinstance(message, list) and len(message) > 1 else "-1"
            await self._reply_error(
                unique_id if isinstance(unique_id, str) else "-1",
                schemas.format_violation(self.ocpp_version, f"nested deeper than {MAX_DEPTH}"),
            )
            return
        if not isinstance(message, list) or len(message) < 3 or not isinstance(message[1], str):
            unique_id = message[1] if isinstance(message, list) and len(message) > 1 else "-1"
            await self._reply_error(
                unique_id if isinstance(unique_id, str) else "-1",
                self._unparsable("message is not an OCPP-J array [type, id, ...]"),
            )
            return
        message_type, unique_id = message[0], message[1]
        if message_type == CALL:
            await self._handle_incoming_call(message)
        elif message_type in (CALL_RESULT, CALL_ERROR):
            future = self._pending.get(unique_id)
            if future is not None and not future.done():
                future.set_result(message)
            else:
                log.warning("%s: answer to unknown call id %s dropped", self.id, unique_id)
        else:
            error: OCPPError
            if self.ocpp_version is OcppVersion.V16:
                error = ProtocolError(details={"cause": f"unknown MessageTypeId {message_type!r}"})
            else:
                error = MessageTypeNotSupportedError(
                    details={"cause": f"unknown MessageTypeId {message_type!r}"}
                )
            await self._reply_error(unique_id, error)

    def _unparsable(self, cause: str) -> OCPPError:
        if self.ocpp_version is OcppVersion.V16:
            return schemas.format_violation(self.ocpp_version, cause)
        return RpcFrameworkError(details={"cause": cause})

    async def _handle_incoming_call(self, message: list[Any]) -> None:
        unique_id = message[1]
        try:
            if len(message) != 4 or not isinstance(message[2], str):
                raise ProtocolError(details={"cause": "a CALL is [2, id, action, payload]"})
            action, payload = message[2], message[3]
            metrics.count_call("in", action if action in self._actions else metrics.UNKNOWN_ACTION)
            if not isinstance(payload, dict):
                raise schemas.format_violation(self.ocpp_version, "payload must be an object")
            handlers = self.route_map.get(action)
            if handlers is None or "_on_action" not in handlers:
                if action in self._actions:
                    raise NotSupportedError(details={"cause": f"{action} is not supported by ems"})
                raise NotImplementedError(details={"cause": f"unknown action {action!r}"})
            schemas.validate(self.ocpp_version, action, payload, response=False)
            bounds.check(self.ocpp_version, action, payload, self._clock())
            result = await self.handle(handlers["_on_action"], to_snake(payload))
            answer = to_camel(remove_nones(serialize_as_dict(result)))
            schemas.validate(self.ocpp_version, action, answer, response=True)
        except OCPPError as error:
            await self._reply_error(unique_id, error)
            return
        except Exception:
            log.exception("%s: handler for %s failed", self.id, message[2])
            await self._reply_error(unique_id, InternalError(details={}))
            return
        await self._send_frame(_dumps([CALL_RESULT, unique_id, answer]))
        await self.after_reply(action, answer)

    async def handle(self, handler: Callable[..., Awaitable[Any]], kwargs: dict[str, Any]) -> Any:
        """Run a CALL's handler; its result is the answer. Subclasses wrap what must happen
        before the answer may go out."""
        return await handler(**kwargs)

    async def after_reply(self, action: str, answer: dict[str, Any]) -> None:
        """Called once a CALL's result has been sent (follow-ups that must come after it)."""

    async def _reply_error(self, unique_id: str, error: OCPPError) -> None:
        description = error.description or getattr(error, "default_description", "")
        metrics.count_call_error("out")
        await self._send_frame(
            _dumps([CALL_ERROR, unique_id, error.code, description, error.details or {}])
        )

    # ---- outgoing ---------------------------------------------------------------------------

    async def request(self, action: str, payload: dict[str, Any]) -> CommandResult:
        """Send a CALL and wait for its answer; one outstanding call per charge point (spec).

        ``payload`` is camelCase, as on the wire. Raises CommandTimeout, CallErrorReceived or
        ChargePointOffline; a payload that breaks the schema raises InvalidCommand, unsent.
        """
        try:
            schemas.validate(self.ocpp_version, action, payload, response=False)
        except OCPPError as error:
            cause = (error.details or {}).get("cause") or error.description
            raise InvalidCommand(
                f"{action} does not fit OCPP {self.ocpp_version.value}: {cause}"
            ) from None
        async with self._call_lock:
            if self._closed:
                raise ChargePointOffline(f"charge point {self.id!r} is not connected")
            unique_id = uuid.uuid4().hex
            metrics.count_call("out", action)
            future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
            self._pending[unique_id] = future
            try:
                await self._send_frame(_dumps([CALL, unique_id, action, payload]))
                answer = await asyncio.wait_for(future, self._response_timeout)
            except TimeoutError:
                raise CommandTimeout(
                    f"{self.id} did not answer {action} within {self._response_timeout:g} s"
                ) from None
            finally:
                self._pending.pop(unique_id, None)
        if answer[0] == CALL_ERROR:
            metrics.count_call_error("in")
            code = answer[2] if len(answer) > 2 else "GenericError"
            description = answer[3] if len(answer) > 3 else ""
            details = answer[4] if len(answer) > 4 and isinstance(answer[4], dict) else {}
            raise CallErrorReceived(str(code), str(description), details)
        result = answer[2] if len(answer) > 2 and isinstance(answer[2], dict) else {}
        try:
            schemas.validate(self.ocpp_version, action, result, response=True)
        except OCPPError as error:
            raise CallErrorReceived(
                error.code, f"invalid {action} answer from the charge point", error.details
            ) from None
        return CommandResult(status=result.get("status"), payload=result)

    async def _send_frame(self, text: str) -> None:
        if self._log_frame is not None:
            self._log_frame("out", self._clock(), text)
        await self._send_text(text)

    def connection_lost(self) -> None:
        """Fail every call still waiting: the charge point went away."""
        self._closed = True
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ChargePointOffline(f"{self.id} disconnected"))
