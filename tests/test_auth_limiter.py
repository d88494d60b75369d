"""The admission limiter and the password executor, on a clock the test moves."""

from __future__ import annotations

import asyncio
import threading

import pytest

from ems import passwords
from ems.config import AdmissionSettings, ConfigError, load_settings
from ems.ocpp import admission
from ems.ocpp.admission import AuthLimiter, Refused, address_key
from ems.passwords import HashingBusy, PasswordExecutor


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def limiter(clock: Clock, **settings: float) -> AuthLimiter:
    return AuthLimiter(AdmissionSettings(**settings), clock)


def retry_after(limiter: AuthLimiter, cp_id: str = "CP", address: str = "10.0.0.1") -> int | None:
    try:
        limiter.check(cp_id, address)
    except Refused as refused:
        assert refused.status == 429
        return refused.retry_after_s
    return None


def test_failures_older_than_the_window_do_not_count() -> None:
    clock = Clock()
    limits = limiter(clock, failures_per_id=3, failures_per_address=0, window_s=60)
    for _ in range(10):
        limits.failed("CP", "10.0.0.1")
        limits.failed("CP", "10.0.0.1")
        clock.now += 61
    assert retry_after(limits) is None
    limits.failed("CP", "10.0.0.1")
    limits.failed("CP", "10.0.0.1")
    limits.failed("CP", "10.0.0.1")
    assert retry_after(limits) == 60


def test_lockouts_double_up_to_the_cap_and_start_over_after_a_quiet_spell() -> None:
    clock = Clock()
    limits = limiter(clock, failures_per_id=1, failures_per_address=0, max_lockout_s=300)
    seen = []
    for _ in range(5):
        limits.failed("CP", "a")
        seen.append(retry_after(limits))
        clock.now += seen[-1] or 0
    assert seen == [60, 120, 240, 300, 300]
    clock.now += 301  # longer than the cap since the last lockout ended
    limits.failed("CP", "a")
    assert retry_after(limits) == 60


def test_a_proved_password_clears_the_id_but_not_the_address() -> None:
    clock = Clock()
    limits = limiter(clock, failures_per_id=2, failures_per_address=3)
    limits.failed("CP", "a")
    limits.failed("OTHER", "a")
    limits.succeeded("CP")
    limits.failed("CP", "a")
    assert retry_after(limits, "CP", "b") is None  # one failure of CP since it proved itself
    assert retry_after(limits, "NEW", "a") == 60  # the address counted all three


def test_a_limit_of_zero_is_off() -> None:
    limits = limiter(Clock(), failures_per_id=0, failures_per_address=0)
    for _ in range(100):
        limits.failed("CP", "a")
    assert retry_after(limits) is None


def test_ipv6_addresses_count_per_64_block() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::9")
    assert address_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_key("192.0.2.7") == "192.0.2.7"
    assert address_key(None) == "unknown"


def test_memory_stays_bounded_under_many_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(admission, "MAX_KEYS", 100)
    clock = Clock()
    limits = limiter(clock, failures_per_id=0, failures_per_address=5)
    for n in range(1000):
        limits.failed("CP", f"10.0.{n // 256}.{n % 256}")
        clock.now += 1
    assert len(limits._addresses._records) <= 100


async def test_checks_beyond_the_bound_are_refused_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = threading.Event()

    def slow_verify(password_hash: str, password: str) -> bool:
        release.wait()
        return password == "right"

    monkeypatch.setattr(passwords, "verify_password", slow_verify)
    executor = PasswordExecutor(threads=1, max_pending=2)
    try:
        first = asyncio.ensure_future(executor.verify("hash", "right"))
        second = asyncio.ensure_future(executor.verify("hash", "wrong"))
        await asyncio.sleep(0)
        assert executor.pending == 2
        with pytest.raises(HashingBusy):
            await executor.verify("hash", "third")
        release.set()
        assert await asyncio.gather(first, second) == [True, False]
        assert executor.pending == 0
    finally:
        release.set()
        executor.shutdown()


async def test_the_executor_runs_argon2() -> None:
    executor = PasswordExecutor()
    try:
        stored = passwords.hash_password("right-password-00001")
        assert await executor.verify(stored, "right-password-00001")
        assert not await executor.verify(stored, "wrong-password-00001")
        assert not await executor.verify("not a hash", "right-password-00001")
    finally:
        executor.shutdown()


def test_failures_of_checks_that_began_before_a_lockout_do_not_extend_it() -> None:
    clock = Clock()
    limits = limiter(clock, failures_per_id=1, failures_per_address=0)
    limits.failed("CP", "a")
    limits.failed("CP", "a")  # its Argon2 check was already running
    assert retry_after(limits) == 60


def test_a_cap_below_the_first_lockout_is_refused_naming_the_section() -> None:
    with pytest.raises(ConfigError, match="admission: max_lockout_s must be at least lockout_s"):
        load_settings(None, admission={"lockout_s": 600, "max_lockout_s": 60})
