"""Refuse every non-loopback network access, and remember each attempt.

Used in-process by ``conftest.py`` (an autouse fixture) and in the CLI subprocesses
through a generated ``sitecustomize.py``, so a test run proves that loading the
embedding model, building an index and answering never touch the network.
Libraries often catch connection errors and carry on (e.g. a hub client falling
back to its cache), so attempts are recorded as well as refused.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable

LOOPBACK_NAMES = {"localhost", "ip6-localhost", "ip6-loopback"}
LOG_ENV = "RETRIEVAL_TEST_NET_LOG"


class NetworkBlocked(OSError):
    """Raised instead of opening a non-loopback connection."""


def is_loopback(host: object) -> bool:
    if host is None:  # getaddrinfo(None, port): the local host
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    name = str(host).strip("[]").split("%")[0].lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def patches(record: Callable[[str], None]) -> list[tuple[object, str, object]]:
    """(target, attribute, replacement) triples that guard the socket module."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_sendto = socket.socket.sendto
    real_getaddrinfo = socket.getaddrinfo

    def check(sock: socket.socket | None, address: object, what: str) -> None:
        if sock is not None and sock.family not in (socket.AF_INET, socket.AF_INET6):
            return  # unix sockets and the like stay local
        host = address[0] if isinstance(address, tuple) else address
        if not is_loopback(host):
            record(f"{what} {address!r}")
            raise NetworkBlocked(f"network access blocked by the retrieval tests: {what} {address!r}")

    def connect(self: socket.socket, address: object) -> None:
        check(self, address, "connect")
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: object) -> int:
        check(self, address, "connect_ex")
        return real_connect_ex(self, address)

    def sendto(self: socket.socket, data: bytes, *args: object) -> int:
        check(self, args[-1], "sendto")
        return real_sendto(self, data, *args)

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> list:
        check(None, host, "getaddrinfo")
        return real_getaddrinfo(host, *args, **kwargs)

    return [(socket.socket, "connect", connect), (socket.socket, "connect_ex", connect_ex),
            (socket.socket, "sendto", sendto), (socket, "getaddrinfo", getaddrinfo)]


def install_from_env() -> None:
    """Permanent guard for a subprocess; attempts are appended to the file named by LOG_ENV."""
    log_path = os.environ.get(LOG_ENV)

    def record(attempt: str) -> None:
        if log_path:
            with open(log_path, "a", encoding="utf-8") as f:
                f.write(attempt + "\n")

    for target, name, value in patches(record):
        setattr(target, name, value)


SITECUSTOMIZE = '''\
import importlib.util as _u
_spec = _u.spec_from_file_location("_retrieval_netguard", {path!r})
_mod = _u.module_from_spec(_spec)
_spec.loader.exec_module(_mod)
_mod.install_from_env()
'''


def write_sitecustomize(folder: str | os.PathLike) -> None:
    """A sitecustomize.py that installs the guard in every Python started with `folder` on PYTHONPATH."""
    path = os.path.join(os.fspath(folder), "sitecustomize.py")
    with open(path, "w", encoding="utf-8") as f:
        f.write(SITECUSTOMIZE.format(path=os.path.abspath(__file__)))
