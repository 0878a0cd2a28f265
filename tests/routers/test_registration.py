"""Router registration against the simulator and a private FreeRADIUS."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hotspotd.db import Database
from hotspotd.settings import Settings
from hotspotd.store.admins import Actor
from hotspotd.store.tenants import Tenant
from radius.groups import set_plan_group
from radius.nas import get_nas
from radius.users import set_user
from routers.credentials import decrypt_password
from routers.registration import RegistrationError, RouterRegistration, register_router
from routers.simulator.run import RunningRouter
from tests.routers.conftest import ROUTER_PASSWORD, StartRouter


def _request(router: RunningRouter, **overrides: Any) -> RouterRegistration:
    values: dict[str, Any] = {
        "name": f"site-{router.config.identity}",
        "host": router.address,
        "api_port": router.api_port,
        "username": "admin",
        "password": ROUTER_PASSWORD,
    }
    values.update(overrides)
    return RouterRegistration.model_validate(values)


def _snapshot(router: RunningRouter) -> dict[str, Any]:
    model = router.router
    return {
        path: model.menu(path).items()
        for path in (
            "/radius",
            "/radius/incoming",
            "/ip/hotspot/profile",
            "/ip/hotspot/walled-garden",
            "/ip/hotspot/walled-garden/ip",
        )
    }


async def _stored_for(db: Database, address: str) -> dict[str, int]:
    counts = {}
    for name, sql in (
        ("routers", "SELECT COUNT(*) FROM routers WHERE host = ?"),
        ("nas", "SELECT COUNT(*) FROM nas WHERE nasname = ?"),
        ("events", "SELECT COUNT(*) FROM events WHERE payload LIKE '%' || ? || '%'"),
    ):
        row = await db.fetchone(sql, (address,))
        assert row is not None
        counts[name] = int(row[0])
    return counts


async def test_registration_stores_router_and_configures_it(
    box_settings: Settings,
    box_db: Database,
    box_admin: Actor,
    box_tenant: Tenant,
    box_router: StartRouter,
) -> None:
    router = await box_router(identity="lobby")
    registered = await register_router(box_db, box_settings, box_admin, _request(router))

    stored = registered.router
    assert stored.tenant_id == box_tenant.id
    assert (stored.identity, stored.version, stored.board) == (
        "lobby",
        "7.18.2 (stable)",
        "hAP ac^2",
    )
    assert stored.status == "online" and stored.nas_ip == router.address
    assert stored.resource is not None and stored.resource["total_memory"] == 134217728
    assert registered.elapsed_s < box_settings.routers.register_timeout_s

    row = await box_db.fetchone("SELECT password_enc FROM routers WHERE id = ?", (stored.id,))
    assert row is not None and ROUTER_PASSWORD not in row[0]
    assert decrypt_password(box_settings, row[0]) == ROUTER_PASSWORD
    nas_row = await get_nas(box_db, router.address)
    assert nas_row is not None and len(nas_row.secret) >= 24
    events = await box_db.fetchall(
        "SELECT type FROM events WHERE subject = ?", (f"router:{stored.id}",)
    )
    assert [e["type"] for e in events] == ["RouterRegistered"]

    # The router, as the daemon left it.
    model = router.router
    radius = model.menu("/radius").items()
    assert len(radius) == 1
    assert radius[0]["address"] == "127.0.0.1"
    assert radius[0]["secret"] == nas_row.secret
    assert radius[0]["authentication-port"] == str(box_settings.radius.auth_port)
    assert radius[0]["accounting-port"] == str(box_settings.radius.acct_port)
    assert radius[0]["service"] == "hotspot"
    incoming = model.menu("/radius/incoming").get("")
    assert incoming["accept"] == "true"
    assert incoming["port"] == str(box_settings.radius.coa_port)
    assert router.incoming_port == box_settings.radius.coa_port
    profile = model.menu("/ip/hotspot/profile").find(name="hsprof1")[0]
    assert profile["use-radius"] == "true"
    assert profile["radius-accounting"] == "true"
    assert profile["radius-interim-update"] == "300s"
    walled = {r["dst-host"] for r in model.menu("/ip/hotspot/walled-garden").items()}
    assert walled == {"portal.hotspot.test", "pay.example.com"}
    assert registered.config.incoming == {
        "accept": "true",
        "port": str(box_settings.radius.coa_port),
    }

    # FreeRADIUS accepts the router's requests at once (dynamic client from the nas row).
    async with box_db.transaction() as conn:
        await set_plan_group(
            conn, "reg-plan", rate_limit="1M/2M", shared_devices=1, data_quota_bytes=None
        )
        await set_user(
            conn,
            "reg-user",
            "reg-pass-1",
            group="reg-plan",
            expires_at=datetime.now(UTC) + timedelta(hours=1),
        )
    client = router.arrive()
    attempt = await client.login("reg-user", "reg-pass-1")
    assert attempt.ok, attempt
    assert client.session is not None and client.session.rate_limit == "1M/2M"


async def test_registration_twice_is_a_conflict_and_changes_nothing(
    box_settings: Settings, box_db: Database, box_admin: Actor, box_router: StartRouter
) -> None:
    router = await box_router()
    await register_router(box_db, box_settings, box_admin, _request(router))
    before = _snapshot(router)
    calls = sum(router.api.calls.values())
    with pytest.raises(RegistrationError) as failure:
        await register_router(box_db, box_settings, box_admin, _request(router, name="other"))
    assert failure.value.kind == "conflict"
    assert "already registered" in failure.value.message
    assert _snapshot(router) == before
    assert sum(router.api.calls.values()) == calls  # refused before touching the router


def _closed_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


FAILURES = [
    # (case, expected kind, expected router kind, words in the message)
    ("wrong-password", "router", "login", "login refused: invalid user name or password"),
    ("closed-port", "router", "unreachable", "unreachable: connection refused"),
    ("hangs", "timeout", "timeout", "no answer within"),
    ("trap-during-configuration", "router", "trap", "walled-garden/ip/add: failure: disk full"),
    ("old-routeros", "router", "unsupported", "RouterOS 6.40.5 is not supported"),
]


@pytest.mark.parametrize(("case", "kind", "router_kind", "words"), FAILURES)
async def test_registration_failure_answers_in_time_and_stores_nothing(
    box_settings: Settings,
    box_db: Database,
    box_admin: Actor,
    box_router: StartRouter,
    case: str,
    kind: str,
    router_kind: str,
    words: str,
) -> None:
    router = await box_router(version="6.40.5" if case == "old-routeros" else "7.18.2 (stable)")
    overrides: dict[str, Any] = {}
    if case == "wrong-password":
        overrides["password"] = "not-the-password"
    elif case == "closed-port":
        overrides["api_port"] = _closed_port(router.address)
    elif case == "hangs":
        router.api.hang = True
    elif case == "trap-during-configuration":
        # Fails after the RADIUS entry, /radius/incoming, the profile and the HTTP walled
        # garden entries were changed: all of that must be undone.
        router.router.fail_on["/ip/hotspot/walled-garden/ip/add"] = "failure: disk full"
    before = _snapshot(router)

    started = time.monotonic()
    with pytest.raises(RegistrationError) as failure:
        await register_router(box_db, box_settings, box_admin, _request(router, **overrides))
    elapsed = time.monotonic() - started

    assert elapsed < box_settings.routers.register_timeout_s + 0.5
    assert (failure.value.kind, failure.value.router_kind) == (kind, router_kind)
    assert words in failure.value.message
    assert await _stored_for(box_db, router.address) == {"routers": 0, "nas": 0, "events": 0}
    router.api.hang = False
    assert _snapshot(router) == before
    if case == "trap-during-configuration":
        assert router.api.calls["/radius/add"] == 1
        assert router.api.calls["/radius/remove"] == 1
        assert router.incoming_port is None


async def test_registration_of_a_router_that_hangs_mid_configuration_is_bounded(
    box_settings: Settings, box_db: Database, box_admin: Actor, box_router: StartRouter
) -> None:
    router = await box_router()
    router.router.delay_s["/ip/hotspot/profile/set"] = 30.0
    started = time.monotonic()
    with pytest.raises(RegistrationError) as failure:
        await register_router(box_db, box_settings, box_admin, _request(router))
    assert time.monotonic() - started < box_settings.routers.register_timeout_s + 0.5
    assert failure.value.kind == "timeout"
    assert await _stored_for(box_db, router.address) == {"routers": 0, "nas": 0, "events": 0}
    # The undo got as far as the router let it: the RADIUS client entry is gone.
    assert router.router.menu("/radius").items() == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("host", "bad host!", "IP address or a host name"),
        ("api_port", 70000, "less than or equal to 65535"),
        ("name", "", "at least 1 character"),
        ("nas_ip", "::1", "IPv4"),
        ("colour", "red", "Extra inputs are not permitted"),
    ],
)
def test_registration_request_validation(field: str, value: object, message: str) -> None:
    values: dict[str, Any] = {"name": "r", "host": "10.0.0.1", "username": "admin"}
    values[field] = value
    with pytest.raises(ValueError, match=message):
        RouterRegistration.model_validate(values)


async def test_registration_by_staff_or_for_another_tenant_is_refused(
    box_settings: Settings, box_db: Database, box_tenant: Tenant, box_router: StartRouter
) -> None:
    router = await box_router()
    staff = Actor(admin_id=2, username="staff", role="staff", tenant_id=box_tenant.id)
    with pytest.raises(RegistrationError) as failure:
        await register_router(box_db, box_settings, staff, _request(router))
    assert failure.value.kind == "forbidden"
    admin = Actor(admin_id=3, username="adm", role="admin", tenant_id=box_tenant.id)
    with pytest.raises(RegistrationError) as failure:
        await register_router(
            box_db, box_settings, admin, _request(router, tenant_id=box_tenant.id + 1000)
        )
    assert failure.value.kind == "forbidden"
    system = Actor(admin_id=4, username="root", role="system", tenant_id=None)
    with pytest.raises(RegistrationError) as failure:
        await register_router(box_db, box_settings, system, _request(router))
    assert failure.value.kind == "invalid" and "tenant_id" in failure.value.message
    assert sum(router.api.calls.values()) == 0
