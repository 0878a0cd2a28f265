"""RouterOS API server (TCP, optional TLS) over a SimulatedRouter."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import logging
import os
import re
import socket
import ssl as ssl_module
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from routers.simulator.menus import MenuSpec
from routers.simulator.model import Menu, SimulatedRouter, TrapError, normalise_bool
from routers.simulator.protocol import (
    ProtocolError,
    SentenceReader,
    decode_word,
    encode_sentence,
    encode_word,
)
from routers.simulator.query import compile_query

logger = logging.getLogger(__name__)

LOGIN_FAILED = "invalid user name or password (6)"
# Arguments print accepts besides queries; most only change console formatting.
PRINT_ARGS = frozenset(
    {
        ".proplist",
        "count-only",
        "detail",
        "without-paging",
        "terse",
        "brief",
        "stats",
        "as-value",
        "show-ids",
        "oid",
        "follow",
        "follow-only",
        "interval",
    }
)
SELECTORS = (".id", "numbers", "number")
_DONE = encode_word("!done")
_RE = encode_word("!re")
_VERSION_RE = re.compile(r"(\d+)\.(\d+)")


@dataclass
class Command:
    """One parsed API sentence."""

    path: str
    args: dict[str, str] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)
    tag: str | None = None


def parse_command(words: list[str]) -> Command:
    """Split a sentence into command path, =attributes, ?queries and .tag."""
    command = Command(path=words[0])
    for word in words[1:]:
        if word.startswith("="):
            # Split at the second '=': values may contain '=' and may be missing ("=name").
            name, _, value = word[1:].partition("=")
            command.args[name] = value
        elif word.startswith("?"):
            command.queries.append(word[1:])
        elif word.startswith(".tag="):
            command.tag = word[5:]
        elif word.startswith("."):
            # API attributes such as ".proplist=a,b" are also sent without the leading '='.
            name, _, value = word.partition("=")
            command.args[name] = value
        else:
            raise TrapError(f"unknown parameter {word}", 1)
    return command


def _tag_word(tag: str | None) -> bytes:
    return b"" if tag is None else encode_word(".tag=" + tag)


def reply(kind: str, attrs: Mapping[str, str] | None = None, tag: str | None = None) -> bytes:
    """Encode one reply sentence (!re, !done, !trap ...)."""
    words = [kind]
    if attrs:
        words.extend(f"={k}={v}" for k, v in attrs.items())
    if tag is not None:
        words.append(".tag=" + tag)
    return encode_sentence(words)


def encode_rows(rows: Iterable[Mapping[str, str]], tag: str | None) -> bytes:
    """Encode many !re sentences at once (the hot path of a big print)."""
    tag_word = _tag_word(tag)
    parts: list[bytes] = []
    append = parts.append
    for row in rows:
        append(_RE)
        for name, value in row.items():
            append(encode_word(f"={name}={value}"))
        append(tag_word)
        append(b"\x00")
    return b"".join(parts)


def _trap(error: TrapError, tag: str | None) -> bytes:
    attrs = {"message": error.message}
    if error.category is not None:
        attrs["category"] = str(error.category)
    return reply("!trap", attrs, tag) + reply("!done", None, tag)


def _has_empty_reply(version: str) -> bool:
    match = _VERSION_RE.match(version)
    if match is None:
        return False
    return (int(match.group(1)), int(match.group(2))) >= (7, 18)


def _validate(spec: MenuSpec, args: Mapping[str, str], *, skip: Iterable[str]) -> dict[str, str]:
    """Check writable properties and value types; return the properties to apply."""
    skipped = set(skip)
    props: dict[str, str] = {}
    for name, value in args.items():
        if name in skipped:
            continue
        if spec.fields is not None and name not in spec.fields:
            raise TrapError(f"unknown parameter {name}", 1)
        if name in spec.booleans:
            value = normalise_bool(name, value)
        elif (name in spec.enums and value not in spec.enums[name]) or (
            name in spec.integers and not value.isdigit()
        ):
            raise TrapError(f"invalid value for argument {name}", 1)
        props[name] = value
    return props


class _Listen:
    """A running listen (or print follow) subscription of one connection."""

    def __init__(self, session: _Session, menu: Menu, tag: str | None, proplist: list[str]):
        self.session = session
        self.menu = menu
        self.tag = tag
        self.proplist = proplist
        menu.on_change.append(self.changed)
        menu.on_remove.append(self.removed)

    def changed(self, item_id: str, row: dict[str, str]) -> None:
        self.session.emit(encode_rows([_project(row, self.proplist)], self.tag))

    def removed(self, row: dict[str, str]) -> None:
        self.session.emit(encode_rows([{".id": row[".id"], ".dead": "true"}], self.tag))

    def stop(self) -> None:
        with contextlib.suppress(ValueError):
            self.menu.on_change.remove(self.changed)
        with contextlib.suppress(ValueError):
            self.menu.on_remove.remove(self.removed)


def _project(row: Mapping[str, str], proplist: list[str]) -> Mapping[str, str]:
    if not proplist:
        return row
    return {name: row[name] for name in proplist if name in row}


class _Session:
    """State of one API connection: login, pending output, listens."""

    def __init__(self, server: ApiServer, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.router = server.router
        self.writer = writer
        self.logged_in = False
        self.challenge: bytes | None = None
        self.closing = False
        self.out: list[bytes] | None = None
        self.listens: list[_Listen] = []

    # -- output ----------------------------------------------------------------------------------
    def emit(self, data: bytes) -> None:
        """Queue bytes for the peer (buffered while a batch of sentences is being answered)."""
        if self.out is not None:
            self.out.append(data)
        elif not self.closing and not self.writer.is_closing():
            self.writer.write(data)

    def flush(self) -> None:
        """Write what is buffered."""
        if self.out:
            if not self.writer.is_closing():
                self.writer.write(b"".join(self.out))
            self.out = []

    def stop_listens(self) -> None:
        """Unsubscribe every listen of this connection."""
        for listen in self.listens:
            listen.stop()
        self.listens.clear()

    def fatal(self, reason: str) -> None:
        """Send !fatal and close after it."""
        self.emit(encode_sentence(["!fatal", reason]))
        self.closing = True

    # -- dispatch ----------------------------------------------------------------------------------
    async def handle(self, raw: list[bytes]) -> None:
        """Answer one sentence."""
        words = [decode_word(w) for w in raw]
        tag: str | None = None
        try:
            command = parse_command(words)
            tag = command.tag
            if command.path == "/login":
                self.login(command)
                return
            if not self.logged_in:
                self.fatal("not logged in")
                return
            self.server.calls[command.path] += 1
            if command.path == "/quit":
                self.fatal("session terminated on request")
                return
            if command.path == "/cancel":
                self.cancel(command)
                return
            delay = self.router.delay_for(command.path)
            if delay > 0:
                self.flush()
                await asyncio.sleep(delay)
            injected = self.router.injected_failure(command.path)
            if injected is not None:
                raise injected
            await self.run(command)
        except TrapError as error:
            if tag is None:
                # The tag word may come after the word that failed to parse.
                tag = next((w[5:] for w in words if w.startswith(".tag=")), None)
            self.emit(_trap(error, tag))
        except Exception as error:  # a bug in a registered command must not kill the router
            logger.exception("simulated command %s failed", words[0] if words else "")
            self.emit(_trap(TrapError(f"failure: {error}", 4), tag))

    def login(self, command: Command) -> None:
        """Handle /login in the router's configured method."""
        router = self.router
        args = command.args
        if router.login_method == "challenge" and "response" not in args:
            self.challenge = os.urandom(16)
            self.emit(reply("!done", {"ret": self.challenge.hex()}, command.tag))
            return
        if "response" in args:
            challenge, self.challenge = self.challenge, None
            expected = None
            if challenge is not None:
                digest = hashlib.md5(
                    b"\x00" + router.password.encode() + challenge, usedforsecurity=False
                )
                expected = "00" + digest.hexdigest()
            ok = (
                router.login_method == "challenge"
                and expected is not None
                and args.get("name") == router.username
                and args["response"].lower() == expected
            )
        else:
            ok = (
                "name" in args
                and args["name"] == router.username
                and args.get("password", "") == router.password
            )
        if not ok:
            logger.info("simulated router %s: login failed", router.identity)
            raise TrapError(LOGIN_FAILED, None)
        self.logged_in = True
        self.emit(reply("!done", None, command.tag))

    def cancel(self, command: Command) -> None:
        """Handle /cancel [=tag=T]: stop running commands with their own trap + done."""
        target = command.args.get("tag")
        for listen in list(self.listens):
            if target is None or listen.tag == target:
                listen.stop()
                self.listens.remove(listen)
                self.emit(
                    reply("!trap", {"category": "2", "message": "interrupted"}, listen.tag)
                    + reply("!done", None, listen.tag)
                )
        self.emit(reply("!done", None, command.tag))

    async def run(self, command: Command) -> None:
        """Run a registered command or a menu command."""
        router = self.router
        handler = router.commands.get(command.path)
        if handler is not None:
            result: Any = handler(router, dict(command.args))
            if inspect.isawaitable(result):
                result = await result
            if isinstance(result, str):
                self.emit(reply("!done", {"ret": result}, command.tag))
            else:
                if result:
                    self.emit(encode_rows(result, command.tag))
                self.emit(reply("!done", None, command.tag))
            return
        menu_path, _, verb = command.path.rpartition("/")
        menu = router.menus.get(menu_path)
        if menu is None:
            raise TrapError("no such command prefix", 0)
        if verb == "listen" and "print" in menu.spec.commands:
            self.listen(menu, command, _proplist(command.args))
            return
        if verb not in menu.spec.commands:
            raise TrapError("no such command", 0)
        if verb in ("print", "getall"):
            self.print(menu, command)
        elif verb == "get":
            self.get(menu, command)
        elif verb == "add":
            props = _validate(menu.spec, command.args, skip=())
            new_id = menu.add(props)
            self.emit(reply("!done", {"ret": new_id}, command.tag))
        elif verb in ("set", "enable", "disable"):
            if verb == "set":
                props = _validate(menu.spec, command.args, skip=SELECTORS)
            else:
                _validate(menu.spec, command.args, skip=SELECTORS)
                props = {"disabled": "true" if verb == "disable" else "false"}
            for item_id in _selection(menu, command.args):
                menu.set(item_id, props)
            self.emit(reply("!done", None, command.tag))
        elif verb == "remove":
            ids = _selection(menu, command.args)
            for item_id in ids:
                menu.remove(item_id)
            self.emit(reply("!done", None, command.tag))
        else:  # pragma: no cover - spec lists a verb this server does not know
            raise TrapError("no such command", 0)

    def print(self, menu: Menu, command: Command) -> None:
        """Answer print/getall: queries, .proplist, count-only, follow."""
        args = command.args
        for name in args:
            if name not in PRINT_ARGS:
                raise TrapError(f"unknown parameter {name}", 1)
        predicate = compile_query(command.queries)
        proplist = _proplist(args)
        if "follow-only" in args:
            self.listen(menu, command, proplist)
            return
        for hook in list(menu.on_print):
            hook(menu)
        rows = menu.items()
        if predicate is not None:
            rows = [row for row in rows if predicate(row)]
        if "count-only" in args:
            self.emit(reply("!done", {"ret": str(len(rows))}, command.tag))
            return
        if proplist:
            rows = [dict(_project(row, proplist)) for row in rows]
        if rows:
            self.emit(encode_rows(rows, command.tag))
        elif _has_empty_reply(self.router.version):
            self.emit(reply("!empty", None, command.tag))
        if "follow" in args:
            self.listen(menu, command, proplist)
            return
        self.emit(reply("!done", None, command.tag))

    def get(self, menu: Menu, command: Command) -> None:
        """Answer get: one property (value-name) or the whole item as a RouterOS array."""
        args = command.args
        ref = next((args[s] for s in SELECTORS if s in args), "")
        if not menu.single and not ref:
            raise TrapError("missing value(s) of argument(s) number", 1)
        item = menu.get(ref)
        item.pop(".id", None)
        name = args.get("value-name")
        if name:
            if name not in item:
                raise TrapError(f"no such parameter {name}", 1)
            ret = item[name]
        else:
            ret = ";".join(f"{k}={v}" for k, v in item.items())
        self.emit(reply("!done", {"ret": ret}, command.tag))

    def listen(self, menu: Menu, command: Command, proplist: list[str]) -> None:
        """Start streaming changes of menu until /cancel (no !done until then)."""
        self.listens.append(_Listen(self, menu, command.tag, proplist))


def _proplist(args: Mapping[str, str]) -> list[str]:
    value = args.get(".proplist", "")
    return [name for name in value.split(",") if name]


def _selection(menu: Menu, args: Mapping[str, str]) -> list[str]:
    """Resolve =.id= / =numbers= (comma separated ids or names) into item ids."""
    if menu.single:
        return [""]
    refs = next((args[s] for s in SELECTORS if s in args), None)
    if refs is None or refs == "":
        raise TrapError("missing value(s) of argument(s) numbers", 1)
    # Resolve all first so a bad reference changes nothing.
    return [menu.resolve(ref.strip()) for ref in refs.split(",") if ref.strip()]


class ApiServer:
    """A running RouterOS API listener for one SimulatedRouter."""

    def __init__(self, router: SimulatedRouter, *, hang: bool = False) -> None:
        self.router = router
        # When true, connections are accepted and read but never answered (a wedged router).
        self.hang = hang
        self.calls: Counter[str] = Counter()
        self.host = ""
        self.port = 0
        self._server: asyncio.Server | None = None
        self._sessions: set[_Session] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def connection_count(self) -> int:
        """Return the number of open client connections."""
        return len(self._sessions)

    async def start(self, host: str, port: int, ssl: ssl_module.SSLContext | None) -> None:
        """Start listening."""
        self._server = await asyncio.start_server(self._client, host, port, ssl=ssl)
        sock = self._server.sockets[0]
        self.host, self.port = sock.getsockname()[:2]

    def drop_connections(self) -> None:
        """Abort every open connection (a reboot or a cut cable, as the client sees it)."""
        for session in list(self._sessions):
            session.closing = True
            session.writer.transport.abort()

    async def close(self) -> None:
        """Stop listening, close all connections and wait for their handlers."""
        if self._server is not None:
            self._server.close()
        self.drop_connections()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> ApiServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        session = _Session(self, writer)
        self._sessions.add(session)
        parser = SentenceReader()
        quickack = _quickack(writer)
        try:
            while not session.closing:
                data = await reader.read(1 << 16)
                if not data:
                    break
                quickack()
                if self.hang:
                    continue
                session.out = []
                for raw in parser.feed(data):
                    await session.handle(raw)
                    if session.closing:
                        break
                out, session.out = session.out, None
                if out and not writer.is_closing():
                    writer.write(b"".join(out))
                    await writer.drain()
        except ProtocolError as error:
            logger.warning("simulated router %s: bad API stream: %s", self.router.identity, error)
        except (ConnectionError, ssl_module.SSLError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # Only close() cancels handlers; ending normally keeps asyncio's stream callback quiet
            # (it calls task.exception(), which raises on a cancelled task).
            pass
        finally:
            session.closing = True
            session.stop_listens()
            self._sessions.discard(session)
            await _close_writer(writer)
            self._tasks.discard(task)


def _quickack(writer: asyncio.StreamWriter) -> Callable[[], None]:
    """Return a function that re-arms TCP_QUICKACK on the connection (Linux; no-op elsewhere).

    routeros-api writes every word with its own send() under Nagle's algorithm, so the second
    segment of a sentence waits for our ACK; with delayed ACKs that costs ~40 ms per command.
    The kernel clears TCP_QUICKACK on its own, hence re-arming after every read.
    """
    sock = writer.get_extra_info("socket")
    option = getattr(socket, "TCP_QUICKACK", None)
    if sock is None or option is None:
        return lambda: None

    def arm() -> None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, option, 1)

    arm()
    return arm


async def _close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), 2)
    except (Exception, asyncio.CancelledError):
        writer.transport.abort()


async def start_api_server(
    router: SimulatedRouter,
    host: str = "127.0.0.1",
    port: int = 0,
    ssl: ssl_module.SSLContext | None = None,
    *,
    hang: bool = False,
) -> ApiServer:
    """Start a RouterOS API server for router; close it with `await server.close()`."""
    server = ApiServer(router, hang=hang)
    await server.start(host, port, ssl)
    return server


__all__ = ["ApiServer", "Command", "encode_rows", "parse_command", "reply", "start_api_server"]
