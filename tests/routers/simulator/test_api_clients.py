"""Fidelity of the simulated RouterOS API against two independent clients.

`routeros-api` (tagged, blocking) and `librouteros` (untagged; sync and asyncio) were written
against real routers, so the simulator passing their round trips is the evidence that it speaks
the protocol.
"""

from __future__ import annotations

import asyncio
import datetime
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import librouteros
import librouteros.exceptions
import librouteros.login
import pytest
import routeros_api
import routeros_api.exceptions
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from routeros_api import api_socket, base_api
from routeros_api.query import IsEqualQuery, NandQuery, OrQuery

from routers.simulator.api_server import ApiServer, start_api_server
from routers.simulator.model import SimulatedRouter
from routers.simulator.tls import (
    anonymous_client_context,
    anonymous_server_context,
    certificate_server_context,
)

T = TypeVar("T")
PASSWORD = "t0ps3cret"


async def in_thread(func: Callable[[], T]) -> T:
    """Run a blocking client call off the event loop that serves the simulator."""
    return await asyncio.to_thread(func)


@pytest.fixture(params=["plain", "challenge"])
def router(request: pytest.FixtureRequest) -> SimulatedRouter:
    return SimulatedRouter(identity="fidelity", password=PASSWORD, login_method=request.param)


@pytest.fixture
async def server(router: SimulatedRouter) -> AsyncIterator[ApiServer]:
    api = await start_api_server(router)
    yield api
    await api.close()


def _pool(port: int, password: str = PASSWORD, **kwargs: Any) -> routeros_api.RouterOsApiPool:
    return routeros_api.RouterOsApiPool(
        "127.0.0.1", username="admin", password=password, port=port, plaintext_login=True, **kwargs
    )


def _lr_login(router: SimulatedRouter) -> Callable[..., None]:
    return (
        librouteros.login.token if router.login_method == "challenge" else librouteros.login.plain
    )


@pytest.fixture
def ros(server: ApiServer) -> Iterator[Any]:
    """A logged-in routeros-api api object (used only from worker threads)."""
    pool = _pool(server.port)
    try:
        yield pool
    finally:
        pool.disconnect()


# -- routeros-api --------------------------------------------------------------------------------


async def test_routeros_api_hotspot_user_round_trip(ros: Any, router: SimulatedRouter) -> None:
    def scenario() -> dict[str, Any]:
        api = ros.get_api()
        users = api.get_resource("/ip/hotspot/user")
        added = users.add(name="alice", password="pw", limit_uptime="1h", disabled="no")
        new_id = added.done_message["ret"]
        users.set(id=new_id, comment="paid", disabled="yes")
        fetched = users.get(name="alice")
        with pytest.raises(routeros_api.exceptions.RouterOsApiCommunicationError) as dup:
            users.add(name="alice")
        users.add(name="bob")
        users.remove(id=new_id)
        return {
            "id": new_id,
            "fetched": fetched,
            "dup": dup.value,
            "left": users.get(),
            # RouterOS 7.18+ answers an empty print with !empty before !done.
            "empty": api.get_resource("/ip/hotspot/walled-garden").get(),
        }

    result = await in_thread(scenario)
    assert result["id"] == "*1"
    (alice,) = result["fetched"]
    assert alice["id"] == "*1"
    assert alice["limit-uptime"] == "1h"
    assert alice["comment"] == "paid"
    assert alice["disabled"] == "true"
    assert b"already have user with this name" in str(result["dup"]).encode()
    assert [u["name"] for u in result["left"]] == ["bob"]
    assert [u["name"] for u in router.menu("/ip/hotspot/user").items()] == ["bob"]
    assert result["empty"] == []


async def test_routeros_api_reads_resource_identity_interfaces(ros: Any) -> None:
    def scenario() -> tuple[Any, Any, Any]:
        api = ros.get_api()
        return (
            api.get_resource("/system/resource").get(),
            api.get_resource("/system/identity").get(),
            api.get_resource("/interface").get(type="ether"),
        )

    resource, identity, interfaces = await in_thread(scenario)
    assert resource[0]["version"] == "7.18.2 (stable)"
    assert resource[0]["board-name"] == "hAP ac^2"
    assert identity == [{"name": "fidelity"}]
    assert [i["name"] for i in interfaces] == [f"ether{n}" for n in range(1, 6)]


async def test_routeros_api_wrong_password_is_refused(server: ApiServer) -> None:
    def scenario() -> Exception:
        pool = _pool(server.port, password="wrong")
        try:
            with pytest.raises(routeros_api.exceptions.RouterOsApiCommunicationError) as caught:
                pool.get_api()
            return caught.value
        finally:
            pool.disconnect()

    error = await in_thread(scenario)
    assert "invalid user name or password" in str(error)


async def test_routeros_api_unknown_command_and_queries(ros: Any, router: SimulatedRouter) -> None:
    for i in range(6):
        router.menu("/ip/hotspot/user").add(
            {"name": f"u{i}", "profile": "gold" if i < 2 else "default"}
        )

    def scenario() -> dict[str, Any]:
        api = ros.get_api()
        users = api.get_resource("/ip/hotspot/user")
        with pytest.raises(routeros_api.exceptions.RouterOsApiCommunicationError) as unknown:
            api.get_resource("/ip/hotspot/user").call("frobnicate")
        # Query objects become ?# stack operations: "?a ?b ?#|" and "?a ?b ?#&!".
        gold = IsEqualQuery("profile", "gold")
        either = users.call(
            "print",
            {".proplist": "name"},
            additional_queries=(OrQuery(gold, IsEqualQuery("name", "u5")),),
        )
        nand = users.call(
            "print",
            {".proplist": "name"},
            additional_queries=(NandQuery(gold, IsEqualQuery("name", "u0")),),
        )
        count = users.call("print", {"count-only": ""})
        proplist = users.call("print", {".proplist": "name,profile"})
        return {
            "unknown": unknown.value,
            "either": either,
            "nand": nand,
            "count": count,
            "proplist": proplist,
        }

    result = await in_thread(scenario)
    assert "no such command" in str(result["unknown"])
    assert [r["name"] for r in result["either"]] == ["u0", "u1", "u5"]
    assert [r["name"] for r in result["nand"]] == ["u1", "u2", "u3", "u4", "u5"]
    assert result["count"].done_message["ret"] == "6"
    assert result["proplist"][0] == {"name": "u0", "profile": "gold"}


async def test_routeros_api_long_values(ros: Any) -> None:
    sizes = (0x80, 0x4000, 0x200000)

    def scenario() -> list[str]:
        users = ros.get_api().get_resource("/ip/hotspot/user")
        for size in sizes:
            users.add(name=f"u{size}", comment="z" * size)
        return [users.get(name=f"u{size}")[0]["comment"] for size in sizes]

    comments = await in_thread(scenario)
    assert [len(c) for c in comments] == list(sizes)


async def test_routeros_api_framing_sees_fatal_before_login(server: ApiServer) -> None:
    # routeros-api always logs in first, so use its own framing layer to send a command early.
    def scenario() -> list[bytes]:
        sock = api_socket.get_socket("127.0.0.1", server.port)
        try:
            connection = base_api.Connection(sock)
            connection.send_sentence([b"/ip/hotspot/user/print", b".tag=1"])
            return list(connection.receive_sentence())
        finally:
            sock.close()

    assert await in_thread(scenario) == [b"!fatal", b"not logged in"]


async def test_librouteros_command_before_login_is_fatal(server: ApiServer) -> None:
    def skip_login(api: Any, username: str, password: str) -> None:
        return None

    def scenario() -> Exception:
        api = librouteros.connect(
            "127.0.0.1", "admin", PASSWORD, port=server.port, login_method=skip_login
        )
        try:
            with pytest.raises(librouteros.exceptions.FatalError) as caught:
                tuple(api("/system/identity/print"))
            return caught.value
        finally:
            api.close()

    assert "not logged in" in str(await in_thread(scenario))


# -- librouteros (sync) ---------------------------------------------------------------------------


async def test_librouteros_hotspot_user_round_trip(
    server: ApiServer, router: SimulatedRouter
) -> None:
    def scenario() -> dict[str, Any]:
        api = librouteros.connect(
            "127.0.0.1", "admin", PASSWORD, port=server.port, login_method=_lr_login(router)
        )
        try:
            users = api.path("/ip/hotspot/user")
            new_id = users.add(name="carol", password="pw", disabled=False)
            users.update(**{".id": new_id, "comment": "vip", "limit-bytes-total": 1000})
            with pytest.raises(librouteros.exceptions.TrapError) as dup:
                users.add(name="carol")
            with pytest.raises(librouteros.exceptions.TrapError) as unknown:
                tuple(api("/ip/hotspot/user/frobnicate"))
            fetched = list(users)
            users.remove(new_id)
            assert list(api.path("/ip/hotspot/walled-garden")) == []
            return {
                "id": new_id,
                "fetched": fetched,
                "dup": dup.value,
                "unknown": unknown.value,
                "left": list(users),
            }
        finally:
            api.close()

    result = await in_thread(scenario)
    (carol,) = result["fetched"]
    assert carol[".id"] == result["id"] == "*1"
    assert carol["comment"] == "vip"
    assert carol["disabled"] is False
    assert carol["limit-bytes-total"] == 1000
    assert result["dup"].message == "failure: already have user with this name"
    assert str(result["dup"].category) == "1"
    assert str(result["unknown"].category) == "0"
    assert result["left"] == []


async def test_librouteros_queries_and_proplist(server: ApiServer, router: SimulatedRouter) -> None:
    from librouteros.query import And, Key, Or

    for i in range(5):
        router.menu("/ip/hotspot/user").add({"name": f"u{i}", "limit-bytes-total": str(i * 100)})

    def scenario() -> tuple[list[Any], list[Any]]:
        api = librouteros.connect(
            "127.0.0.1", "admin", PASSWORD, port=server.port, login_method=_lr_login(router)
        )
        try:
            name, limit = Key("name"), Key("limit-bytes-total")
            users = api.path("/ip/hotspot/user")
            selected = list(users.select(name).where(Or(name == "u0", limit > 250)))
            combined = list(users.select(name, limit).where(And(limit < 300, name != "u0")))
            return selected, combined
        finally:
            api.close()

    selected, combined = await in_thread(scenario)
    assert selected == [{"name": "u0"}, {"name": "u3"}, {"name": "u4"}]
    assert combined == [
        {"name": "u1", "limit-bytes-total": 100},
        {"name": "u2", "limit-bytes-total": 200},
    ]


async def test_librouteros_wrong_password_and_long_values(
    server: ApiServer, router: SimulatedRouter
) -> None:
    def scenario() -> list[int]:
        with pytest.raises(librouteros.exceptions.TrapError):
            librouteros.connect(
                "127.0.0.1", "admin", "nope", port=server.port, login_method=_lr_login(router)
            )
        api = librouteros.connect(
            "127.0.0.1", "admin", PASSWORD, port=server.port, login_method=_lr_login(router)
        )
        try:
            users = api.path("/ip/hotspot/user")
            for size in (0x80, 0x4000, 0x200000):
                users.add(name=f"u{size}", comment="q" * size)
            return [len(str(u["comment"])) for u in users]
        finally:
            api.close()

    assert await in_thread(scenario) == [0x80, 0x4000, 0x200000]


# -- librouteros (asyncio) ------------------------------------------------------------------------


async def test_librouteros_async_round_trip(server: ApiServer, router: SimulatedRouter) -> None:
    login = (
        librouteros.login.async_token
        if router.login_method == "challenge"
        else librouteros.login.async_plain
    )
    api = await librouteros.async_connect(
        "127.0.0.1", "admin", PASSWORD, port=server.port, login_method=login
    )
    try:
        added = [r async for r in api("/ip/hotspot/user/add", name="dave", password="pw")]
        rows = [r async for r in api("/ip/hotspot/user/print", **{".proplist": "name,password"})]
        resource = [r async for r in api("/system/resource/print")]
        with pytest.raises(librouteros.exceptions.TrapError):
            [r async for r in api("/ip/hotspot/user/add", name="dave")]
    finally:
        await api.close()
    assert added == [{"ret": "*1"}]
    assert rows == [{"name": "dave", "password": "pw"}]
    assert resource[0]["board-name"] == "hAP ac^2"


# -- TLS ------------------------------------------------------------------------------------------


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "router.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "api.crt", tmp_path / "api.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_api_ssl_with_both_clients(tmp_path: Path) -> None:
    cert_path, key_path = _self_signed(tmp_path)
    server_ctx = certificate_server_context(cert_path, key_path)
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    router = SimulatedRouter(identity="tls", password=PASSWORD)
    server = await start_api_server(router, ssl=server_ctx)
    try:

        def scenario() -> tuple[Any, Any]:
            pool = _pool(server.port, ssl_context=client_ctx)
            try:
                via_ros = pool.get_api().get_resource("/system/identity").get()
            finally:
                pool.disconnect()
            api = librouteros.connect(
                "127.0.0.1", "admin", PASSWORD, port=server.port, ssl_wrapper=client_ctx.wrap_socket
            )
            try:
                via_lr = list(api.path("/system/identity"))
            finally:
                api.close()
            return via_ros, via_lr

        via_ros, via_lr = await in_thread(scenario)
        api = await librouteros.async_connect(
            "127.0.0.1", "admin", PASSWORD, port=server.port, ssl_wrapper=client_ctx
        )
        try:
            via_async = [r async for r in api("/system/identity/print")]
        finally:
            await api.close()
    finally:
        await server.close()
    assert via_ros == [{"name": "tls"}]
    assert via_lr == [{"name": "tls"}]
    assert via_async == [{"name": "tls"}]


async def test_api_ssl_anonymous_dh_like_routeros_without_certificate() -> None:
    router = SimulatedRouter(identity="adh", password=PASSWORD)
    server = await start_api_server(router, ssl=anonymous_server_context())
    try:

        def scenario() -> Any:
            pool = _pool(server.port, ssl_context=anonymous_client_context())
            try:
                return pool.get_api().get_resource("/system/identity").get()
            finally:
                pool.disconnect()

        via_ros = await in_thread(scenario)
        api = await librouteros.async_connect(
            "127.0.0.1", "admin", PASSWORD, port=server.port, ssl_wrapper=anonymous_client_context()
        )
        try:
            via_async = [r async for r in api("/system/identity/print")]
        finally:
            await api.close()
    finally:
        await server.close()
    assert via_ros == via_async == [{"name": "adh"}]


# -- performance ----------------------------------------------------------------------------------


async def test_api_fifty_routers_in_parallel(tmp_path: Path) -> None:
    routers = [SimulatedRouter(identity=f"r{i}", password=PASSWORD) for i in range(50)]
    for router in routers:
        active = router.menu("/ip/hotspot/active")
        for n in range(40):
            active.add({"user": f"u{n}", "address": f"10.5.50.{n + 2}"})
    servers = [await start_api_server(router) for router in routers]
    try:

        def sync_one(port: int) -> int:
            pool = _pool(port)
            try:
                api = pool.get_api()
                api.get_resource("/system/resource").get()
                return len(api.get_resource("/ip/hotspot/active").get())
            finally:
                pool.disconnect()

        loop = asyncio.get_running_loop()
        started = loop.time()
        counts = await asyncio.gather(*(in_thread(lambda p=s.port: sync_one(p)) for s in servers))
        elapsed = loop.time() - started
    finally:
        for server in servers:
            await server.close()
    assert counts == [40] * 50
    assert elapsed < 5
