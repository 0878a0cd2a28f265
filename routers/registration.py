"""Router registration: connect, read, configure for this box, store; all or nothing.

Registration is synchronous (the operator must know at once whether the router answered) and
bounded by ``routers.register_timeout_s`` even if the router hangs. What was changed on the
router is journaled and undone on any failure; the database is written last, in one
transaction (router row, its ``nas`` row with a fresh RADIUS secret, the event).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import secrets
import socket
import time
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from hotspotd.db import Database
from hotspotd.events import Event, Publisher, publish_event, record_event
from hotspotd.settings import Settings
from hotspotd.store import routers as router_store
from hotspotd.store.admins import Actor
from hotspotd.store.errors import Conflict, NotFound
from radius import nas
from routers import hotspot_ops
from routers.client import RouterClient, RouterError
from routers.credentials import CredentialsError, check_key, encrypt_password

logger = logging.getLogger(__name__)

_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+$")
# Part of the time bound kept for undoing a half-done configuration.
_ROLLBACK_SHARE = 0.2
_ROLLBACK_MAX_S = 2.0

FailureKind = Literal["invalid", "forbidden", "conflict", "router", "timeout", "server"]


class RegistrationError(Exception):
    """Registration failed; nothing was stored and the router was put back as it was."""

    def __init__(self, kind: FailureKind, message: str, *, router_kind: str | None = None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        # RouterError.kind when the router was the cause (unreachable, login, trap, ...).
        self.router_kind = router_kind


class RouterRegistration(BaseModel):
    """What an admin enters to register a router."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    name: str = Field(min_length=1, max_length=64)
    host: str = Field(min_length=1, max_length=253)
    api_port: int = Field(default=8728, ge=1, le=65535)
    use_tls: bool = False
    username: str = Field(min_length=1, max_length=64)
    # A fresh MikroTik's admin has an empty password: allowed, if unwise.
    password: SecretStr = Field(default=SecretStr(""), max_length=128)
    # The address the router's RADIUS packets come from, if not the API host's.
    nas_ip: str | None = None
    # System admins register for a tenant; tenant admins for their own (may be left out).
    tenant_id: int | None = None

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            pass
        if not _HOSTNAME.match(value):
            raise ValueError("must be an IP address or a host name")
        return value.lower()

    @field_validator("nas_ip")
    @classmethod
    def _nas_ip(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        try:
            return str(ipaddress.IPv4Address(value))
        except ValueError:
            raise ValueError("must be an IPv4 address") from None


@dataclass(frozen=True)
class Registered:
    """A stored router and what was found and set on it."""

    router: router_store.Router
    config: hotspot_ops.BoxConfig
    elapsed_s: float

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON answer of a registration."""
        return {
            "router": self.router.model_dump(),
            "configured": self.config.as_dict(),
            "elapsed_s": round(self.elapsed_s, 3),
        }


def box_target(settings: Settings, secret: str) -> hotspot_ops.BoxTarget:
    """Return how a router must be set up to use this box."""
    radius = settings.radius
    address = radius.public_address or radius.listen_address
    if ipaddress.ip_address(address).is_unspecified:
        raise RegistrationError(
            "server", "set radius.public_address: routers cannot send RADIUS to 0.0.0.0"
        )
    portal_host = urlsplit(settings.portal.public_url).hostname
    return hotspot_ops.BoxTarget(
        radius_address=address,
        auth_port=radius.auth_port,
        acct_port=radius.acct_port,
        secret=secret,
        incoming_port=radius.coa_port,
        interim_interval_s=radius.interim_interval_s,
        walled_garden_hosts=hotspot_ops.walled_garden_hosts(
            portal_host, settings.routers.walled_garden_hosts
        ),
        require_message_auth=settings.routers.require_message_auth,
    )


def _tenant_for(actor: Actor, requested: int | None) -> int:
    if actor.is_system:
        if requested is None:
            raise RegistrationError("invalid", "tenant_id: required for a system admin")
        return requested
    if actor.role != "admin" or actor.tenant_id is None:
        raise RegistrationError("forbidden", "only admins may register routers")
    if requested is not None and requested != actor.tenant_id:
        raise RegistrationError("forbidden", "you may only register routers for your tenant")
    return actor.tenant_id


async def _nas_address(request: RouterRegistration) -> str:
    if request.nas_ip is not None:
        return request.nas_ip
    try:
        return str(ipaddress.IPv4Address(request.host))
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            request.host, request.api_port, family=socket.AF_INET, type=socket.SOCK_STREAM
        )
    except OSError as exc:
        raise RegistrationError(
            "router", f"{request.host}: cannot resolve host name: {exc.strerror or exc}"
        ) from None
    return str(infos[0][4][0])


def _router_failure(exc: RouterError) -> RegistrationError:
    kind: FailureKind = "timeout" if exc.kind == "timeout" else "router"
    return RegistrationError(kind, exc.message, router_kind=exc.kind)


async def register_router(
    db: Database,
    settings: Settings,
    actor: Actor,
    request: RouterRegistration,
    *,
    publisher: Publisher | None = None,
) -> Registered:
    """Register a router for this box within the time bound; RegistrationError otherwise."""
    started = time.monotonic()
    tenant_id = _tenant_for(actor, request.tenant_id)
    try:
        check_key(settings)
    except CredentialsError as exc:
        raise RegistrationError("server", str(exc)) from None
    nas_ip = await _nas_address(request)
    conflict = await router_store.find_conflict(db, tenant_id, name=request.name, nas_ip=nas_ip)
    if conflict is not None:
        raise RegistrationError("conflict", conflict)
    secret = secrets.token_urlsafe(24)
    target = box_target(settings, secret)
    cfg = settings.routers
    bound_s = cfg.register_timeout_s
    rollback_s = min(_ROLLBACK_MAX_S, bound_s * _ROLLBACK_SHARE)
    work_s = bound_s - rollback_s - (time.monotonic() - started)
    client = RouterClient(
        request.host,
        port=request.api_port,
        username=request.username,
        password=request.password.get_secret_value(),
        use_tls=request.use_tls,
        connect_timeout_s=min(cfg.connect_timeout_s, work_s),
        command_timeout_s=min(cfg.command_timeout_s, work_s),
        name=f"{request.host}:{request.api_port}",
    )
    journal = hotspot_ops.Journal()
    try:
        try:
            async with asyncio.timeout(work_s):
                system = await hotspot_ops.read_system(client)
                hotspot_ops.check_supported(system.resource.version)
                await hotspot_ops.configure_router(client, target, system.resource.version, journal)
                config = await hotspot_ops.read_box_config(client, target.radius_address)
        except TimeoutError:
            raise RegistrationError(
                "timeout", f"{client.name}: no answer within {bound_s:g} s"
            ) from None
        except RouterError as exc:
            raise _router_failure(exc) from None
        problems = hotspot_ops.verify_box_config(config, target)
        if problems:
            raise RegistrationError(
                "router", f"{client.name}: settings did not stick: {'; '.join(problems)}"
            )
        router, event = await _store(db, settings, tenant_id, request, nas_ip, secret, system)
    except BaseException:
        await _undo(client, journal, rollback_s)
        await client.close()
        raise
    await client.close()
    if publisher is not None:
        await publish_event(publisher, settings.redis.key_prefix, event)
    elapsed = time.monotonic() - started
    logger.info(
        "registered router %s (%s, RouterOS %s) for tenant %d in %.2f s",
        router.name,
        router.host,
        router.version,
        tenant_id,
        elapsed,
    )
    return Registered(router, config, elapsed)


async def _store(
    db: Database,
    settings: Settings,
    tenant_id: int,
    request: RouterRegistration,
    nas_ip: str,
    secret: str,
    system: hotspot_ops.SystemInfo,
) -> tuple[router_store.Router, Event]:
    password_enc = encrypt_password(settings, request.password.get_secret_value())
    try:
        async with db.transaction() as conn:
            router = await router_store.insert_router(
                conn,
                tenant_id,
                name=request.name,
                host=request.host,
                api_port=request.api_port,
                use_tls=request.use_tls,
                username=request.username,
                password_enc=password_enc,
                nas_ip=nas_ip,
                identity=system.identity,
                version=system.resource.version,
                board=system.resource.board,
                resource=system.resource.as_dict(),
            )
            await nas.add_nas(
                conn,
                ip=nas_ip,
                secret=secret,
                shortname=f"router-{router.id}",
                description=f"{request.name} ({system.identity})",
            )
            event = await record_event(
                conn,
                "RouterRegistered",
                tenant_id=tenant_id,
                subject=f"router:{router.id}",
                payload={
                    "router_id": router.id,
                    "name": router.name,
                    "host": router.host,
                    "identity": system.identity,
                    "version": system.resource.version,
                    "board": system.resource.board,
                },
            )
    except Conflict as exc:
        raise RegistrationError("conflict", str(exc)) from None
    except NotFound as exc:
        raise RegistrationError("invalid", f"tenant_id: no such tenant ({exc})") from None
    return router, event


async def _undo(client: RouterClient, journal: hotspot_ops.Journal, limit_s: float) -> None:
    if journal.empty:
        return
    failed: list[str] = []
    try:
        async with asyncio.timeout(limit_s):
            failed = await hotspot_ops.rollback(client, journal)
    except TimeoutError:
        failed = [
            f"{kind} {path} {item_id or ''}".strip() for kind, path, item_id, _ in journal.steps
        ]
        failed.append("(the router stopped answering)")
    if failed:
        logger.warning(
            "%s: registration failed and %d change(s) could not be undone: %s",
            client.name,
            len(failed),
            ", ".join(failed),
        )
    else:
        logger.info("%s: registration failed; router changes undone", client.name)
