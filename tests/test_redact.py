"""Secrets in OCPP frames: redacted where a message carries one, every other frame untouched."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ems.ocpp.redact import REDACTED, is_secret_name, redact_frame

SECRET = "0123456789abcdef-s3cr3t"


def frame(message: list[Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


@pytest.mark.parametrize(
    "message, redacted",
    [
        (
            [2, "1", "ChangeConfiguration", {"key": "AuthorizationKey", "value": SECRET}],
            [2, "1", "ChangeConfiguration", {"key": "AuthorizationKey", "value": REDACTED}],
        ),
        (
            [3, "2", {"configurationKey": [
                {"key": "HeartbeatInterval", "value": "300", "readonly": False},
                {"key": "AuthorizationKey", "value": SECRET, "readonly": False},
            ]}],
            [3, "2", {"configurationKey": [
                {"key": "HeartbeatInterval", "value": "300", "readonly": False},
                {"key": "AuthorizationKey", "value": REDACTED, "readonly": False},
            ]}],
        ),
        (
            [2, "3", "SetVariables", {"setVariableData": [
                {"attributeValue": SECRET, "component": {"name": "SecurityCtrlr"},
                 "variable": {"name": "BasicAuthPassword"}},
                {"attributeValue": "60", "component": {"name": "OCPPCommCtrlr"},
                 "variable": {"name": "HeartbeatInterval"}},
            ]}],
            [2, "3", "SetVariables", {"setVariableData": [
                {"attributeValue": REDACTED, "component": {"name": "SecurityCtrlr"},
                 "variable": {"name": "BasicAuthPassword"}},
                {"attributeValue": "60", "component": {"name": "OCPPCommCtrlr"},
                 "variable": {"name": "HeartbeatInterval"}},
            ]}],
        ),
        (
            [3, "4", {"getVariableResult": [
                {"attributeStatus": "Accepted", "attributeValue": SECRET,
                 "component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}},
            ]}],
            [3, "4", {"getVariableResult": [
                {"attributeStatus": "Accepted", "attributeValue": REDACTED,
                 "component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}},
            ]}],
        ),
        (
            [2, "5", "NotifyReport", {"requestId": 1, "seqNo": 0, "reportData": [
                {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"},
                 "variableAttribute": [{"type": "Actual", "value": SECRET}]},
            ]}],
            [2, "5", "NotifyReport", {"requestId": 1, "seqNo": 0, "reportData": [
                {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"},
                 "variableAttribute": [{"type": "Actual", "value": REDACTED}]},
            ]}],
        ),
        (
            [2, "6", "SetNetworkProfile", {"configurationSlot": 1, "connectionData": {
                "ocppCsmsUrl": "wss://ems/ocpp", "basicAuthPassword": SECRET,
                "apn": {"apn": "internet", "apnPassword": SECRET},
                "vpn": {"server": "v", "user": "u", "password": SECRET, "key": SECRET},
            }}],
            [2, "6", "SetNetworkProfile", {"configurationSlot": 1, "connectionData": {
                "ocppCsmsUrl": "wss://ems/ocpp", "basicAuthPassword": REDACTED,
                "apn": {"apn": "internet", "apnPassword": REDACTED},
                "vpn": {"server": "v", "user": "u", "password": REDACTED, "key": REDACTED},
            }}],
        ),
    ],
)  # fmt: skip
def test_secrets_are_replaced_wherever_a_message_carries_them(
    message: list[Any], redacted: list[Any]
) -> None:
    text = redact_frame(frame(message))
    assert SECRET not in text
    assert json.loads(text) == redacted


@pytest.mark.parametrize(
    "text",
    [
        '[2,"1","Heartbeat",{}]',
        frame([2, "1", "ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "30"}]),
        frame(
            [2, "1", "ChangeConfiguration", {"key": "PublicKeyWithSignedMeterValue", "value": "1"}]
        ),
        frame([3, "1", {"configurationKey": [{"key": "GetConfigurationMaxKeys", "value": "20"}]}]),
        '[2, "1", "MeterValues", {"connectorId": 1, "meterValue": []}]',  # spacing kept as is
        '[2,"1","ChangeConfiguration",{"key":"AuthorizationKey","value":',  # not JSON: kept
    ],
)
def test_frames_without_secrets_are_returned_unchanged(text: str) -> None:
    assert redact_frame(text) is text


def test_names_escaped_as_unicode_are_found() -> None:
    text = '[2,"1","ChangeConfiguration",{"key":"Authorization\\u004bey","value":"s3cr3t"}]'
    assert "s3cr3t" not in redact_frame(text)


@pytest.mark.parametrize(
    "name, secret",
    [
        ("AuthorizationKey", True),
        ("authorizationkey", True),
        ("BasicAuthPassword", True),
        ("apnPassword", True),
        ("MqttClientSecret", True),
        ("TlsPrivateKey", True),
        ("HeartbeatInterval", False),
        ("PublicKeyWithSignedMeterValue", False),
        ("GetConfigurationMaxKeys", False),
        ("AuthorizeRemoteTxRequests", False),
        ("key", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret
