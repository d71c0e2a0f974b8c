"""Suite-wide guards and fixtures.

Every test runs under a socket hook that fails it on any connection to an
address outside loopback: this machine has no network but the package
registries, and a test that reaches out is a bug (and traffic that gets flagged).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator

import pytest

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


class NonLoopbackConnect(AssertionError):
    pass


_attempts: list[str] = []


def _check(address: object) -> None:
    if isinstance(address, tuple) and address:
        host = address[0]
        try:
            ip = ipaddress.ip_address(str(host).split("%")[0])
        except ValueError as exc:  # a hostname reached connect(): resolution bypassed us
            _attempts.append(str(host))
            raise NonLoopbackConnect(f"connect() to unresolved host {host!r}") from exc
        if not ip.is_loopback and not (
            isinstance(ip, ipaddress.IPv6Address)
            and ip.ipv4_mapped is not None
            and ip.ipv4_mapped.is_loopback
        ):
            _attempts.append(str(host))
            raise NonLoopbackConnect(f"test tried to connect to non-loopback address {host}")


def _guarded_connect(self: socket.socket, address: object) -> None:
    _check(address)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    _check(address)
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Fail the test on any non-loopback connect (AF_UNIX sockets pass).

    The hook raises inside the library too, but a library may swallow that as
    an ordinary connection error; so attempts are also recorded and the test
    fails at teardown if there was any. Tests may read the list (the fixture
    value) to assert a refusal happened before any connection.
    """
    _attempts.clear()
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    yield _attempts
    if _attempts:
        found = list(_attempts)
        _attempts.clear()
        pytest.fail(f"non-loopback connect attempted: {found}")
