"""Async RouterOS API client over the blocking ``routeros-api`` package.

``routeros-api`` is blocking and not thread-safe (one tag counter and one receive buffer per
connection), so each ``RouterClient`` owns one worker thread and every call on its connection
runs there, one at a time. Any error drops the connection; the next call reconnects. Every
failure reaches the caller as one ``RouterError`` whose message an operator can act on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import routeros_api
from routeros_api import exceptions as api_errors

logger = logging.getLogger(__name__)

ErrorKind = Literal["unreachable", "timeout", "login", "trap", "protocol", "unsupported", "closed"]
Row = dict[str, str]
T = TypeVar("T")

# A timed-out call also gets this long to notice the aborted socket before the caller gives up.
_ABORT_GRACE_S = 0.5


class RouterError(Exception):
    """A router could not be reached or refused a command; ``str()`` is for the operator."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class Reply:
    """Rows (``!re``) and the attributes of ``!done`` (``ret`` after add) of one command."""

    rows: list[Row]
    done: Row


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _bytes(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bool):
        return b"yes" if value else b"no"
    return str(value).encode()


def _timed_out(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, TimeoutError | socket.timeout):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return "timed out" in str(exc)


def _anonymous_tls_context() -> ssl.SSLContext:
    # api-ssl without a certificate offers only anonymous DH (reference/routeros-api.md).
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("ADH:ALL:@SECLEVEL=0")
    return context


class RouterClient:
    """One API connection to one router, used from asyncio; ``await close()`` when done."""

    def __init__(
        self,
        host: str,
        *,
        port: int,
        username: str,
        password: str,
        use_tls: bool = False,
        connect_timeout_s: float = 5.0,
        command_timeout_s: float = 10.0,
        name: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self._password = password
        self.use_tls = use_tls
        self.connect_timeout_s = connect_timeout_s
        self.command_timeout_s = command_timeout_s
        self.name = name or f"{host}:{port}"
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"router-{host}")
        self._pool: Any = None
        self._api: Any = None
        self._closed = False

    def __repr__(self) -> str:  # keep the password out of logs and tracebacks
        return f"RouterClient({self.name!r}, user={self.username!r})"

    async def __aenter__(self) -> RouterClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- running on the router's thread ---------------------------------------------------------
    async def _run(self, fn: Callable[[], T], timeout_s: float) -> T:
        if self._closed:
            raise RouterError("closed", f"{self.name}: connection closed")
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, fn)
        try:
            async with asyncio.timeout(timeout_s + _ABORT_GRACE_S):
                return await future
        except TimeoutError:
            # The socket timeout should have fired first; a slow trickle of data can keep a
            # blocking call alive, so cut the socket to free the thread.
            self._abort()
            raise RouterError("timeout", f"{self.name}: no answer within {timeout_s:g} s") from None
        except asyncio.CancelledError:
            self._abort()
            raise

    def _abort(self) -> None:
        """Wake a blocked call by shutting its socket down (safe from another thread)."""
        pool = self._pool
        raw = getattr(getattr(pool, "socket", None), "socket", None)
        if raw is not None:
            with contextlib.suppress(OSError):
                raw.shutdown(socket.SHUT_RDWR)

    def _disconnect(self) -> None:
        pool, self._pool, self._api = self._pool, None, None
        if pool is not None:
            with contextlib.suppress(Exception):
                pool.disconnect()

    def _connect(self) -> Any:
        if self._api is not None:
            return self._api
        pool = routeros_api.RouterOsApiPool(
            self.host,
            username=self.username,
            password=self._password,
            port=self.port,
            plaintext_login=True,
            use_ssl=self.use_tls,
            ssl_verify=False,
            ssl_verify_hostname=False,
            ssl_context=_anonymous_tls_context() if self.use_tls else None,
        )
        pool.set_timeout(self.connect_timeout_s)
        self._pool = pool
        try:
            api = pool.get_api()
        except api_errors.RouterOsApiCommunicationError as exc:
            self._disconnect()
            reason = _text(getattr(exc, "original_message", b"")) or "refused"
            raise RouterError("login", f"{self.name}: login refused: {reason}") from exc
        except (api_errors.RouterOsApiError, OSError, ssl.SSLError) as exc:
            self._disconnect()
            if _timed_out(exc):
                raise RouterError(
                    "timeout",
                    f"{self.name}: connected but no answer within {self.connect_timeout_s:g} s"
                    " (is this the RouterOS API port?)",
                ) from exc
            raise RouterError("unreachable", f"{self.name}: unreachable: {_reason(exc)}") from exc
        raw = getattr(pool.socket, "socket", None)
        if raw is not None:
            # routeros-api sends every word with its own send(): without TCP_NODELAY each
            # command waits on a delayed ACK (~40 ms).
            with contextlib.suppress(OSError):
                raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            _buffer_reads(pool.socket, raw)
        pool.set_timeout(self.command_timeout_s)
        self._api = api
        return api

    def _call_sync(
        self,
        path: str,
        command: str,
        arguments: Mapping[str, object] | None,
        queries: Mapping[str, object] | None,
    ) -> Reply:
        api = self._connect()
        args = {k: _bytes(v) for k, v in (arguments or {}).items()}
        query = {k: _bytes(v) for k, v in (queries or {}).items()}
        try:
            response = api.get_binary_resource(path).call(command, args, query)
        except api_errors.RouterOsApiCommunicationError as exc:
            # A trap leaves the connection usable, but a half-read reply would not: drop it.
            self._disconnect()
            message = _text(getattr(exc, "original_message", b"")) or str(exc)
            raise RouterError("trap", f"{self.name}: {path}/{command}: {message}") from exc
        except (api_errors.RouterOsApiError, OSError, ssl.SSLError, AssertionError) as exc:
            self._disconnect()
            if _timed_out(exc):
                raise RouterError(
                    "timeout",
                    f"{self.name}: {path}/{command}: no answer within {self.command_timeout_s:g} s",
                ) from exc
            if isinstance(exc, api_errors.RouterOsApiConnectionError | OSError):
                raise RouterError(
                    "unreachable", f"{self.name}: connection lost: {_reason(exc)}"
                ) from exc
            raise RouterError("protocol", f"{self.name}: bad reply: {_reason(exc)}") from exc
        rows = [{key: _text(value) for key, value in row.items()} for row in response]
        done = {key: _text(value) for key, value in response.done_message.items()}
        return Reply(rows, done)

    # -- public API -----------------------------------------------------------------------------
    async def connect(self) -> None:
        """Connect and log in now (calls connect on demand anyway)."""
        await self._run(self._connect, self.connect_timeout_s)

    async def call(
        self,
        path: str,
        command: str,
        arguments: Mapping[str, object] | None = None,
        queries: Mapping[str, object] | None = None,
        *,
        timeout_s: float | None = None,
    ) -> Reply:
        """Run one command (``/ip/hotspot/active``, ``print``); keys use RouterOS names.

        ``.id`` comes back as ``id`` (routeros-api renames it); send it as ``.id`` or ``id``.
        """
        limit = timeout_s if timeout_s is not None else self.command_timeout_s
        # Connecting counts against its own timeout on a fresh connection.
        budget = limit + (self.connect_timeout_s if self._api is None else 0.0)
        return await self._run(lambda: self._call_sync(path, command, arguments, queries), budget)

    async def print(
        self,
        path: str,
        proplist: Sequence[str] | None = None,
        *,
        queries: Mapping[str, object] | None = None,
        timeout_s: float | None = None,
    ) -> list[Row]:
        """Return the rows of a menu, only the listed properties if given."""
        arguments = {".proplist": ",".join(proplist)} if proplist else None
        reply = await self.call(path, "print", arguments, queries, timeout_s=timeout_s)
        return reply.rows

    async def add(self, path: str, properties: Mapping[str, object]) -> str:
        """Add an item and return its new id (``*1A``)."""
        reply = await self.call(path, "add", properties)
        new_id = reply.done.get("ret", "")
        if not new_id:
            raise RouterError("protocol", f"{self.name}: {path}/add returned no id")
        return new_id

    async def set(self, path: str, item_id: str | None, properties: Mapping[str, object]) -> None:
        """Change an item (settings menus: item_id None)."""
        arguments = dict(properties)
        if item_id is not None:
            arguments[".id"] = item_id
        await self.call(path, "set", arguments)

    async def remove(self, path: str, item_id: str) -> None:
        """Remove an item by id."""
        await self.call(path, "remove", {".id": item_id})

    async def close(self) -> None:
        """Close the connection and stop the thread (waits for a running call to end)."""
        if self._closed:
            return
        self._closed = True
        self._abort()
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._disconnect)
        finally:
            self._executor.shutdown(wait=False)


def _buffer_reads(wrapper: Any, raw: Any) -> None:
    """Serve routeros-api's small reads from a buffer.

    The library reads each word's length byte by byte and then the word, one recv() each: a
    print of 2,000 sessions costs ~50,000 system calls. One recv() of up to 64 KiB feeds many.
    """
    buffer = bytearray()

    def receive(length: int) -> bytes:
        if not buffer:
            data = raw.recv(1 << 16)
            if not data:
                raise api_errors.RouterOsApiConnectionClosedError
            buffer.extend(data)
        chunk = bytes(buffer[:length])
        # Deleting from the front of a bytearray is amortised O(1) in CPython.
        del buffer[:length]
        return chunk

    wrapper.receive = receive


def _reason(exc: BaseException) -> str:
    """Return the innermost OS-level reason ("connection refused") of a library error."""
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, OSError) and current.strerror:
            return current.strerror.lower()
        for arg in getattr(current, "args", ()):
            if isinstance(arg, OSError) and arg.strerror:
                return arg.strerror.lower()
        current = current.__cause__ or current.__context__
    text = str(exc).strip()
    return text or type(exc).__name__
