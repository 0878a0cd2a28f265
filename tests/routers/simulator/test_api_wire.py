"""Wire-level tests of the simulated RouterOS API server with a raw client."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator

import pytest

from routers.simulator.api_server import ApiServer, start_api_server
from routers.simulator.model import SimulatedRouter, TrapError
from routers.simulator.protocol import SentenceReader, decode_word, encode_sentence

Sentence = list[str]


class RawClient:
    """A minimal API client that shows exactly what the server sends."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.parser = SentenceReader()
        self.queue: list[Sentence] = []

    @classmethod
    async def connect(cls, server: ApiServer) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        return cls(reader, writer)

    def send(self, *words: str | bytes) -> None:
        self.writer.write(encode_sentence(words))

    async def read(self) -> Sentence:
        while not self.queue:
            data = await asyncio.wait_for(self.reader.read(1 << 16), 5)
            if not data:
                raise EOFError
            self.queue.extend([decode_word(w) for w in s] for s in self.parser.feed(data))
        return self.queue.pop(0)

    async def until_done(self) -> list[Sentence]:
        sentences = []
        while True:
            sentence = await self.read()
            sentences.append(sentence)
            if sentence[0] == "!done":
                return sentences

    async def call(self, *words: str) -> list[Sentence]:
        self.send(*words)
        return await self.until_done()

    async def login(self, password: str = "") -> None:
        assert await self.call("/login", "=name=admin", f"=password={password}") == [["!done"]]

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


@pytest.fixture
def router() -> SimulatedRouter:
    return SimulatedRouter(identity="wire")


@pytest.fixture
async def server(router: SimulatedRouter) -> AsyncIterator[ApiServer]:
    api = await start_api_server(router)
    yield api
    await api.close()


@pytest.fixture
async def client(server: ApiServer) -> AsyncIterator[RawClient]:
    raw = await RawClient.connect(server)
    await raw.login()
    yield raw
    await raw.close()


async def test_wire_command_before_login_is_fatal_and_closes(server: ApiServer) -> None:
    raw = await RawClient.connect(server)
    try:
        raw.send("/ip/hotspot/user/print", ".tag=1")
        assert await raw.read() == ["!fatal", "not logged in"]
        with pytest.raises(EOFError):
            await raw.read()
    finally:
        await raw.close()


async def test_wire_wrong_password_traps_and_allows_retry(server: ApiServer) -> None:
    raw = await RawClient.connect(server)
    try:
        reply = await raw.call("/login", "=name=admin", "=password=nope", ".tag=a")
        assert reply == [
            ["!trap", "=message=invalid user name or password (6)", ".tag=a"],
            ["!done", ".tag=a"],
        ]
        reply = await raw.call("/login", "=name=root", "=password=", ".tag=b")
        assert reply[0][0] == "!trap"
        await raw.login()
    finally:
        await raw.close()


async def test_wire_challenge_login(server: ApiServer, router: SimulatedRouter) -> None:
    router.login_method = "challenge"
    router.password = "s3cret"
    raw = await RawClient.connect(server)
    try:
        (done,) = await raw.call("/login")
        assert done[0] == "!done"
        challenge = bytes.fromhex(done[1].removeprefix("=ret="))
        assert len(challenge) == 16
        bad = "00" + hashlib.md5(b"\x00wrong" + challenge).hexdigest()
        assert (await raw.call("/login", "=name=admin", f"=response={bad}"))[0][0] == "!trap"
        # A response is only good for the challenge it answers: ask again.
        (done,) = await raw.call("/login")
        challenge = bytes.fromhex(done[1].removeprefix("=ret="))
        good = "00" + hashlib.md5(b"\x00s3cret" + challenge).hexdigest()
        assert await raw.call("/login", "=name=admin", f"=response={good}") == [["!done"]]
        assert (await raw.call("/system/identity/print"))[0] == ["!re", "=name=wire"]
    finally:
        await raw.close()


async def test_wire_tags_echoed_on_every_reply(client: RawClient) -> None:
    client.send("/interface/print", "?type=ether", ".tag=t1")
    client.send("/nothing/print", ".tag=t2")
    client.send("/ip/hotspot/user/add", "=name=a", ".tag=t3")
    replies = []
    while len([s for s in replies if s[0] == "!done"]) < 3:
        replies.append(await client.read())
    assert all(s[-1].startswith(".tag=") for s in replies)
    assert [s[-1] for s in replies if s[0] == "!done"] == [".tag=t1", ".tag=t2", ".tag=t3"]
    assert len([s for s in replies if s[-1] == ".tag=t1" and s[0] == "!re"]) == 5


async def test_wire_unknown_command_and_menu_trap_category_zero(client: RawClient) -> None:
    reply = await client.call("/ip/hotspot/user/frobnicate")
    assert reply[0] == ["!trap", "=message=no such command", "=category=0"]
    reply = await client.call("/ip/nothing/print")
    assert reply[0] == ["!trap", "=message=no such command prefix", "=category=0"]
    reply = await client.call("/ip/hotspot/active/add", "=user=x")
    assert reply[0][0] == "!trap"


async def test_wire_bad_arguments_trap(client: RawClient) -> None:
    for words in (
        ("/ip/hotspot/user/add", "=name=a", "=colour=red"),
        ("/ip/hotspot/user/add", "=name=a", "=disabled=perhaps"),
        ("/radius/add", "=address=1.2.3.4", "=authentication-port=abc"),
        ("/ip/hotspot/walled-garden/ip/add", "=action=maybe"),
        ("/ip/hotspot/user/print", "=bogus="),
        ("/ip/hotspot/user/set", "=comment=x"),
    ):
        reply = await client.call(*words)
        assert reply[0][0] == "!trap", words
        assert "=category=1" in reply[0], words
    assert await client.call("/ip/hotspot/user/print", "=count-only=") == [["!done", "=ret=0"]]


async def test_wire_add_set_remove_by_id_numbers_and_name(
    client: RawClient, router: SimulatedRouter
) -> None:
    (done,) = await client.call("/ip/hotspot/user/add", "=name=alice", "=password=pw")
    assert done == ["!done", "=ret=*1"]
    await client.call("/ip/hotspot/user/add", "=name=bob")
    assert await client.call("/ip/hotspot/user/set", "=.id=*1", "=limit-uptime=1h") == [["!done"]]
    assert await client.call("/ip/hotspot/user/disable", "=numbers=alice,bob") == [["!done"]]
    users = router.menu("/ip/hotspot/user")
    assert users.get("*1")["limit-uptime"] == "1h"
    assert [u["disabled"] for u in users.items()] == ["true", "true"]
    reply = await client.call("/ip/hotspot/user/remove", "=numbers=*1,*7")
    assert reply[0] == ["!trap", "=message=no such item", "=category=0"]
    assert len(users) == 2  # nothing removed when one reference is bad
    assert await client.call("/ip/hotspot/user/remove", "=.id=*1,*2") == [["!done"]]
    assert len(users) == 0


async def test_wire_print_proplist_queries_count_only_and_empty(client: RawClient) -> None:
    for i in range(5):
        await client.call(
            "/ip/hotspot/user/add", f"=name=u{i}", f"=comment={'vip' if i % 2 else ''}"
        )
    reply = await client.call(
        "/ip/hotspot/user/print", "=.proplist=.id,name", "?comment=vip", "?name=u1", "?#|"
    )
    assert reply == [["!re", "=.id=*2", "=name=u1"], ["!re", "=.id=*4", "=name=u3"], ["!done"]]
    reply = await client.call("/ip/hotspot/user/print", "=count-only=", "?-comment")
    assert reply == [["!done", "=ret=0"]]
    reply = await client.call("/ip/hotspot/user/print", "=count-only=", "?comment=")
    assert reply == [["!done", "=ret=3"]]
    reply = await client.call("/ip/hotspot/user/print", "?name=nobody", ".tag=e")
    assert reply == [["!empty", ".tag=e"], ["!done", ".tag=e"]]


async def test_wire_old_version_has_no_empty_reply(
    client: RawClient, router: SimulatedRouter
) -> None:
    router.version = "6.49.10 (long-term)"
    assert await client.call("/ip/hotspot/user/print") == [["!done"]]


async def test_wire_settings_menus_print_without_id_and_set_without_selection(
    client: RawClient, router: SimulatedRouter
) -> None:
    reply = await client.call("/radius/incoming/set", "=accept=yes", "=port=3799")
    assert reply == [["!done"]]
    reply = await client.call("/radius/incoming/print")
    assert reply == [["!re", "=accept=true", "=port=3799", "=vrf=main"], ["!done"]]
    assert await client.call("/system/identity/set", "=name=edge-1") == [["!done"]]
    assert router.identity == "edge-1"
    (re_, _) = await client.call("/system/resource/print", "=.proplist=uptime,version")
    assert re_[1].startswith("=uptime=")
    assert re_[2] == "=version=7.18.2 (stable)"
    assert (await client.call("/system/resource/set", "=cpu-load=1"))[0][0] == "!trap"


async def test_wire_get_returns_one_value(client: RawClient) -> None:
    await client.call("/ip/hotspot/user/add", "=name=alice", "=password=pw")
    reply = await client.call("/ip/hotspot/user/get", "=number=alice", "=value-name=password")
    assert reply == [["!done", "=ret=pw"]]
    reply = await client.call("/system/identity/get", "=value-name=name")
    assert reply == [["!done", "=ret=wire"]]


async def test_wire_long_values_use_every_multibyte_length(
    client: RawClient, router: SimulatedRouter
) -> None:
    for size in (0x80, 0x4000, 0x200000):
        comment = "c" * size
        client.send("/ip/hotspot/user/add", f"=name=u{size}", f"=comment={comment}")
        assert (await client.until_done())[0][0] == "!done"
        (re_, _) = await client.call(
            "/ip/hotspot/user/print", "=.proplist=comment", f"?name=u{size}"
        )
        assert re_[1] == f"=comment={comment}"


async def test_wire_listen_streams_changes_until_cancel(
    client: RawClient, server: ApiServer, router: SimulatedRouter
) -> None:
    client.send("/ip/hotspot/active/listen", ".tag=L")
    other = await RawClient.connect(server)
    try:
        await other.login()
        session = router.menu("/ip/hotspot/active").add({"user": "alice"})
        change = await client.read()
        assert change[0] == "!re"
        assert f"=.id={session}" in change and "=user=alice" in change
        assert change[-1] == ".tag=L"
        assert await other.call("/ip/hotspot/active/remove", f"=.id={session}") == [["!done"]]
        assert await client.read() == ["!re", f"=.id={session}", "=.dead=true", ".tag=L"]
    finally:
        await other.close()
    client.send("/cancel", "=tag=L", ".tag=C")
    replies = [await client.read() for _ in range(3)]
    assert ["!trap", "=category=2", "=message=interrupted", ".tag=L"] in replies
    assert ["!done", ".tag=L"] in replies
    assert ["!done", ".tag=C"] in replies
    # Once cancelled, no more updates arrive.
    router.menu("/ip/hotspot/active").add({"user": "bob"})
    assert await client.call("/system/identity/print", ".tag=Z") == [
        ["!re", "=name=wire", ".tag=Z"],
        ["!done", ".tag=Z"],
    ]


async def test_wire_print_follow_sends_rows_then_changes(
    client: RawClient, router: SimulatedRouter
) -> None:
    users = router.menu("/ip/hotspot/user")
    users.add({"name": "a"})
    client.send("/ip/hotspot/user/print", "=follow=", "=.proplist=name", ".tag=F")
    assert await client.read() == ["!re", "=name=a", ".tag=F"]
    users.add({"name": "b"})
    assert await client.read() == ["!re", "=name=b", ".tag=F"]
    client.send("/cancel", ".tag=C")
    replies = [await client.read() for _ in range(3)]
    assert ["!done", ".tag=F"] in replies


async def test_wire_pipelined_sentences_answered_in_order(client: RawClient) -> None:
    for i in range(200):
        client.send("/ip/hotspot/user/add", f"=name=u{i}", f".tag={i}")
    client.send("/ip/hotspot/user/print", "=count-only=", ".tag=n")
    replies = [await client.read() for _ in range(201)]
    assert [r[-1] for r in replies] == [f".tag={i}" for i in range(200)] + [".tag=n"]
    assert replies[-1] == ["!done", "=ret=200", ".tag=n"]


async def test_wire_registered_commands_sync_and_async(
    client: RawClient, router: SimulatedRouter
) -> None:
    def login(r: SimulatedRouter, args: dict[str, str]) -> None:
        if args.get("password") != "ok":
            raise TrapError("invalid username or password", 1)
        r.menu("/ip/hotspot/active").add({"user": args["user"], "address": args["ip"]})

    async def hosts(r: SimulatedRouter, args: dict[str, str]) -> list[dict[str, str]]:
        await asyncio.sleep(0)
        return [{"mac-address": "AA:AA:AA:AA:AA:AA"}]

    router.register_command("/ip/hotspot/active/login", login)
    router.register_command("/tool/hosts", hosts)
    router.register_command("/tool/ret", lambda r, a: "42")
    reply = await client.call("/ip/hotspot/active/login", "=user=u", "=password=no", "=ip=1.1.1.1")
    assert reply[0] == ["!trap", "=message=invalid username or password", "=category=1"]
    ok = await client.call("/ip/hotspot/active/login", "=user=u", "=password=ok", "=ip=1.1.1.1")
    assert ok == [["!done"]]
    assert router.menu("/ip/hotspot/active").find(user="u")
    assert await client.call("/tool/hosts") == [
        ["!re", "=mac-address=AA:AA:AA:AA:AA:AA"],
        ["!done"],
    ]
    assert await client.call("/tool/ret") == [["!done", "=ret=42"]]


async def test_wire_injected_failures(client: RawClient, router: SimulatedRouter) -> None:
    router.fail_next("/ip/hotspot/active/print", "timeout", 4)
    reply = await client.call("/ip/hotspot/active/print", ".tag=1")
    assert reply == [["!trap", "=message=timeout", "=category=4", ".tag=1"], ["!done", ".tag=1"]]
    assert (await client.call("/ip/hotspot/active/print"))[-1] == ["!done"]
    router.fail_on["/ip/hotspot/user"] = "busy"
    assert (await client.call("/ip/hotspot/user/add", "=name=x"))[0][0] == "!trap"
    assert (await client.call("/ip/hotspot/user/print"))[0][0] == "!trap"
    del router.fail_on["/ip/hotspot/user"]
    assert (await client.call("/ip/hotspot/user/add", "=name=x"))[0][0] == "!done"


async def test_wire_delay_knob_slows_one_command(
    client: RawClient, router: SimulatedRouter
) -> None:
    router.delay_s["/system/identity/print"] = 0.3
    started = time.monotonic()
    await client.call("/system/identity/print")
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    await client.call("/interface/print")
    assert time.monotonic() - started < 0.3


async def test_wire_hang_mode_accepts_but_never_answers(router: SimulatedRouter) -> None:
    api = await start_api_server(router, hang=True)
    try:
        raw = await RawClient.connect(api)
        try:
            raw.send("/login", "=name=admin", "=password=")
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(raw.reader.read(1), 0.3)
            api.hang = False
            await raw.login()
        finally:
            await raw.close()
    finally:
        await api.close()


async def test_wire_drop_connections_and_close_end_clients(server: ApiServer) -> None:
    raw = await RawClient.connect(server)
    try:
        await raw.login()
        assert server.connection_count == 1
        server.drop_connections()
        with pytest.raises((EOFError, ConnectionError)):
            await raw.read()
    finally:
        await raw.close()
    second = await RawClient.connect(server)
    try:
        await second.login()
        await server.close()
        with pytest.raises((EOFError, ConnectionError)):
            await second.read()
    finally:
        await second.close()


async def test_wire_reserved_length_byte_closes_connection(server: ApiServer) -> None:
    raw = await RawClient.connect(server)
    try:
        raw.writer.write(b"\xf8\x00\x00\x00\x00")
        with pytest.raises((EOFError, ConnectionError)):
            await raw.read()
    finally:
        await raw.close()


async def test_wire_quit_ends_session(client: RawClient) -> None:
    client.send("/quit")
    assert (await client.read())[0] == "!fatal"
    with pytest.raises(EOFError):
        await client.read()


async def test_wire_print_of_2000_rows_is_fast(client: RawClient, router: SimulatedRouter) -> None:
    active = router.menu("/ip/hotspot/active")
    for i in range(2000):
        active.add({"user": f"u{i}", "address": f"10.5.{i // 250}.{i % 250}"})
    started = time.monotonic()
    reply = await client.call("/ip/hotspot/active/print", ".tag=big")
    elapsed = time.monotonic() - started
    assert len(reply) == 2001
    assert elapsed < 1.0
