"""Plans: JSON API and admin page (create, list, edit, delete), scoped to the acting tenant.

Each plan is a RADIUS group (its rate limit, shared devices and data quota); the plan row and
its group are written in one transaction, so FreeRADIUS never sees a plan without its limits.
Unlike most changes these are synchronous (201/200 at once): they are a few local SQLite rows,
with nothing slow or fallible to hand to the worker. Live sessions keep their limits until
their next login (or a renewal's CoA).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, cast

import aiosqlite
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hotspotd.db import Database
from hotspotd.events import Event, Publisher, publish_event, record_event
from hotspotd.settings import Settings
from hotspotd.store import event_log, plans, tenants
from hotspotd.store.admins import Actor
from hotspotd.store.errors import Conflict, NotFound
from hotspotd.store.plans import Plan
from portal.auth import Role, require_actor
from portal.http_errors import http_error
from portal.keys import DB_KEY, REDIS_KEY, SETTINGS_KEY
from portal.request_body import read_body
from portal.templating import render
from radius import groups
from radius import vouchers as radius_vouchers
from tasks.enqueue import enqueue_push_plan_limits

MANAGERS: tuple[Role, ...] = ("system", "admin")
_UNITS_S = {"minutes": 60, "hours": 3600, "days": 86400}
_MIB = 1024 * 1024


class PlanInput(BaseModel):
    """A plan as the API accepts it (money in minor units, durations in seconds)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=64)
    price_cents: int = Field(ge=0, le=10**10)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    validity_s: int = Field(gt=0, le=400 * 86400)
    data_quota_bytes: int | None = Field(default=None, gt=0, le=2**50)
    rate_limit: str | None = Field(default=None, max_length=100)
    shared_devices: int = Field(default=1, ge=1, le=100)
    active: bool = True
    hidden: bool = False


class _FieldErrors(Exception):
    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("invalid input")
        self.fields = fields


def _validate(values: Mapping[str, Any]) -> PlanInput:
    data = dict(values)
    if data.get("rate_limit") == "":
        data["rate_limit"] = None
    try:
        plan = PlanInput.model_validate(data)
    except ValidationError as exc:
        fields: dict[str, str] = {}
        for error in exc.errors():
            name = ".".join(str(p) for p in error["loc"]) or "body"
            fields.setdefault(name, str(error["msg"]))
        raise _FieldErrors(fields) from None
    return plan


def _from_form(form: Mapping[str, str]) -> dict[str, Any]:
    """Turn the page's form (price in major units, validity with a unit, quota in MiB) into API
    fields; errors are collected per field."""
    fields: dict[str, str] = {}
    data: dict[str, Any] = {
        "name": form.get("name", ""),
        "currency": form.get("currency", "").upper(),
        "rate_limit": form.get("rate_limit", "").strip() or None,
        "active": "active" in form,
        "hidden": "hidden" in form,
    }
    try:
        price = Decimal(form.get("price", "").strip() or "x")
        if price < 0 or price != price.quantize(Decimal("0.01")):
            raise InvalidOperation
        data["price_cents"] = int(price * 100)
    except InvalidOperation:
        fields["price"] = "a price like 50 or 49.50"
    unit = _UNITS_S.get(form.get("validity_unit", "hours"))
    try:
        data["validity_s"] = int(form.get("validity", "")) * (unit or 0)
    except ValueError:
        fields["validity"] = "a whole number"
    if unit is None:
        fields["validity_unit"] = "minutes, hours or days"
    quota = form.get("data_quota_mb", "").strip()
    try:
        data["data_quota_bytes"] = int(quota) * _MIB if quota else None
    except ValueError:
        fields["data_quota_mb"] = "a whole number of MiB, or empty for no quota"
    try:
        data["shared_devices"] = int(form.get("shared_devices", "1") or "1")
    except ValueError:
        fields["shared_devices"] = "a whole number"
    if fields:
        raise _FieldErrors(fields)
    return data


async def _tenant_for(request: web.Request, actor: Actor, data: dict[str, Any]) -> int:
    """Return the tenant a new plan belongs to: the actor's own, or the one a system admin names."""
    given = data.pop("tenant_id", None)
    if not actor.is_system:
        if actor.tenant_id is None:
            raise http_error(request, web.HTTPForbidden, "no tenant")
        return actor.tenant_id
    try:
        tenant_id = int(given)
        await tenants.get_tenant(request.app[DB_KEY], tenant_id)
    except (TypeError, ValueError, NotFound):
        raise _FieldErrors({"tenant_id": "choose a tenant"}) from None
    return tenant_id


def _scope(actor: Actor) -> int | None:
    return None if actor.is_system else (actor.tenant_id if actor.tenant_id is not None else -1)


async def _find(request: web.Request, actor: Actor) -> Plan:
    try:
        plan_id = int(request.match_info["plan_id"])
        return await plans.get_plan_scoped(request.app[DB_KEY], _scope(actor), plan_id)
    except (ValueError, NotFound):
        raise http_error(request, web.HTTPNotFound, "no such plan") from None


async def _write_group(conn: aiosqlite.Connection, settings: Settings, plan: Plan) -> None:
    try:
        await groups.set_plan_group(
            conn,
            plan.radius_group,
            rate_limit=plan.rate_limit,
            shared_devices=plan.shared_devices,
            data_quota_bytes=plan.data_quota_bytes,
            interim_interval_s=settings.radius.interim_interval_s,
        )
    except ValueError as exc:  # the rate limit syntax is checked here, by the RADIUS side
        raise _FieldErrors({"rate_limit": str(exc)}) from None


async def save_plan(
    db: Database,
    settings: Settings,
    tenant_id: int,
    values: PlanInput,
    *,
    plan_id: int | None = None,
    publisher: Publisher | None = None,
) -> Plan:
    """Create or replace a plan and its RADIUS group in one transaction; PlanSaved event."""
    fields = values.model_dump()
    async with db.transaction() as conn:
        if plan_id is None:
            created = await plans.create_plan(
                conn,
                tenant_id,
                name=values.name,
                price_cents=values.price_cents,
                currency=values.currency,
                validity_s=values.validity_s,
                data_quota_bytes=values.data_quota_bytes,
                rate_limit=values.rate_limit,
                shared_devices=values.shared_devices,
            )
            plan_id = created.id
        plan = await plans.update_plan(conn, tenant_id, plan_id, **fields)
        await _write_group(conn, settings, plan)
        event = await record_event(
            conn,
            "PlanSaved",
            tenant_id=tenant_id,
            subject=f"plan:{plan.id}",
            payload=plan.model_dump(),
        )
    if publisher is not None:
        await publish_event(publisher, settings.redis.key_prefix, event)
    return plan


async def remove_plan(
    db: Database, settings: Settings, plan: Plan, publisher: Publisher | None = None
) -> None:
    """Delete an unused plan and its RADIUS group; Conflict if subscriptions use it."""
    async with db.transaction() as conn:
        # Vouchers have no subscription row: their users in the plan's group count too.
        if await radius_vouchers.group_has_users(conn, plan.radius_group):
            raise Conflict("the plan has vouchers: hide or deactivate it instead")
        await plans.delete_plan(conn, plan.tenant_id, plan.id)
        await groups.delete_plan_group(conn, plan.radius_group)
        event: Event = await record_event(
            conn,
            "PlanDeleted",
            tenant_id=plan.tenant_id,
            subject=f"plan:{plan.id}",
            payload={"plan_id": plan.id, "name": plan.name},
        )
    if publisher is not None:
        await publish_event(publisher, settings.redis.key_prefix, event)


def _publisher(request: web.Request) -> Publisher:
    # ArqRedis.publish is typed wider than the Publisher protocol; it is the same call.
    return cast(Publisher, request.app[REDIS_KEY])


# -- JSON API ---------------------------------------------------------------------------------


def _invalid(request: web.Request, exc: _FieldErrors) -> web.HTTPException:
    return http_error(request, web.HTTPUnprocessableEntity, "invalid input", fields=exc.fields)


async def get_plans(request: web.Request) -> web.Response:
    """GET /api/plans: the actor's tenant's plans (every tenant's for a system admin)."""
    actor = await require_actor(request)
    found = await plans.list_plans_scoped(request.app[DB_KEY], _scope(actor))
    return web.json_response({"plans": [p.model_dump() for p in found]})


async def get_plan(request: web.Request) -> web.Response:
    """GET /api/plans/{id}."""
    actor = await require_actor(request)
    return web.json_response((await _find(request, actor)).model_dump())


async def post_plan(request: web.Request) -> web.Response:
    """POST /api/plans: create a plan (201)."""
    actor = await require_actor(request, *MANAGERS)
    data = await read_body(request)
    app = request.app
    try:
        tenant_id = await _tenant_for(request, actor, data)
        plan = await save_plan(
            app[DB_KEY],
            app[SETTINGS_KEY],
            tenant_id,
            _validate(data),
            publisher=_publisher(request),
        )
    except _FieldErrors as exc:
        raise _invalid(request, exc) from None
    except Conflict as exc:
        raise http_error(request, web.HTTPConflict, str(exc)) from None
    return web.json_response(
        plan.model_dump(), status=201, headers={"Location": f"/api/plans/{plan.id}"}
    )


async def patch_plan(request: web.Request) -> web.Response:
    """PATCH /api/plans/{id}: change some fields; the plan's RADIUS group follows."""
    actor = await require_actor(request, *MANAGERS)
    current = await _find(request, actor)
    data = await read_body(request)
    data.pop("tenant_id", None)
    push_live = data.pop("push_to_live_sessions", False) is True
    merged = current.model_dump(include=set(PlanInput.model_fields)) | data
    app = request.app
    try:
        plan = await save_plan(
            app[DB_KEY],
            app[SETTINGS_KEY],
            current.tenant_id,
            _validate(merged),
            plan_id=current.id,
            publisher=_publisher(request),
        )
    except _FieldErrors as exc:
        raise _invalid(request, exc) from None
    except Conflict as exc:
        raise http_error(request, web.HTTPConflict, str(exc)) from None
    body = plan.model_dump()
    if push_live:
        body["push_job_id"] = await enqueue_push_plan_limits(
            app[REDIS_KEY], app[SETTINGS_KEY], plan.id
        )
    return web.json_response(body)


async def delete_plan(request: web.Request) -> web.Response:
    """DELETE /api/plans/{id}: 204, or 409 when subscriptions use it."""
    actor = await require_actor(request, *MANAGERS)
    plan = await _find(request, actor)
    try:
        await remove_plan(request.app[DB_KEY], request.app[SETTINGS_KEY], plan, _publisher(request))
    except Conflict as exc:
        raise http_error(request, web.HTTPConflict, str(exc)) from None
    return web.Response(status=204)


# -- admin page -------------------------------------------------------------------------------


def _form_values(plan: Plan) -> dict[str, Any]:
    validity, unit = plan.validity_s, "minutes"
    for name in ("days", "hours", "minutes"):
        if plan.validity_s % _UNITS_S[name] == 0:
            validity, unit = plan.validity_s // _UNITS_S[name], name
            break
    return {
        "name": plan.name,
        "price": f"{Decimal(plan.price_cents) / 100:.2f}",
        "currency": plan.currency,
        "validity": str(validity),
        "validity_unit": unit,
        "data_quota_mb": str(plan.data_quota_bytes // _MIB) if plan.data_quota_bytes else "",
        "rate_limit": plan.rate_limit or "",
        "shared_devices": str(plan.shared_devices),
        "active": plan.active,
        "hidden": plan.hidden,
    }


async def _page(
    request: web.Request,
    actor: Actor,
    *,
    status: int = 200,
    editing: Plan | None = None,
    errors: Mapping[str, str] | None = None,
    error: str | None = None,
    form: Mapping[str, Any] | None = None,
) -> web.Response:
    db = request.app[DB_KEY]
    if form is None:
        form = _form_values(editing) if editing is not None else {"active": True}
    context = {
        "plans": await plans.list_plans_scoped(db, _scope(actor)),
        "tenants": await tenants.list_tenants(db) if actor.is_system else [],
        "can_manage": actor.role in MANAGERS,
        "editing": editing,
        "form": form,
        "errors": dict(errors or {}),
        "error": error,
        "notice": request.query.get("notice", ""),
        "units": list(_UNITS_S),
    }
    # Live updates start after what the page shows (no replay of older events).
    context["last_event_id"] = await event_log.latest_event_id(request.app[DB_KEY])
    return render(request, "admin/plans.html", context, status=status)


async def plans_page(request: web.Request) -> web.Response:
    """GET /admin/plans."""
    actor = await require_actor(request)
    return await _page(request, actor)


async def plan_edit_page(request: web.Request) -> web.Response:
    """GET /admin/plans/{id}: the page with the plan's edit form."""
    actor = await require_actor(request, *MANAGERS)
    return await _page(request, actor, editing=await _find(request, actor))


async def plans_submit(request: web.Request) -> web.Response:
    """POST /admin/plans (create) and /admin/plans/{id} (edit)."""
    actor = await require_actor(request, *MANAGERS)
    editing = await _find(request, actor) if "plan_id" in request.match_info else None
    data = await read_body(request)
    app = request.app
    try:
        if editing is None:
            tenant_id = await _tenant_for(request, actor, dict(data))
        else:
            tenant_id = editing.tenant_id
        values = _validate(_from_form(data))
        plan = await save_plan(
            app[DB_KEY],
            app[SETTINGS_KEY],
            tenant_id,
            values,
            plan_id=editing.id if editing is not None else None,
            publisher=_publisher(request),
        )
    except _FieldErrors as exc:
        return await _page(
            request, actor, status=422, editing=editing, errors=exc.fields, form=data
        )
    except Conflict as exc:
        return await _page(request, actor, status=409, editing=editing, error=str(exc), form=data)
    if editing is not None and "push_live" in data:
        await enqueue_push_plan_limits(app[REDIS_KEY], app[SETTINGS_KEY], plan.id)
        raise web.HTTPSeeOther(
            location=f"/admin/plans?notice=saved+plan+{plan.id};+sending+its+rate+limit+to"
            "+customers+online+now"
        )
    raise web.HTTPSeeOther(location=f"/admin/plans?notice=saved+plan+{plan.id}")


async def plan_delete_submit(request: web.Request) -> web.Response:
    """POST /admin/plans/{id}/delete."""
    actor = await require_actor(request, *MANAGERS)
    plan = await _find(request, actor)
    try:
        await remove_plan(request.app[DB_KEY], request.app[SETTINGS_KEY], plan, _publisher(request))
    except Conflict as exc:
        return await _page(request, actor, status=409, error=str(exc))
    raise web.HTTPSeeOther(location=f"/admin/plans?notice=deleted+plan+{plan.id}")


def setup_plans_views(app: web.Application) -> None:
    """Register the plans API and admin page."""
    r = app.router
    r.add_get("/api/plans", get_plans)
    r.add_post("/api/plans", post_plan)
    r.add_get("/api/plans/{plan_id}", get_plan)
    r.add_patch("/api/plans/{plan_id}", patch_plan)
    r.add_delete("/api/plans/{plan_id}", delete_plan)
    r.add_get("/admin/plans", plans_page)
    r.add_post("/admin/plans", plans_submit)
    r.add_get("/admin/plans/{plan_id}", plan_edit_page)
    r.add_post("/admin/plans/{plan_id}", plans_submit)
    r.add_post("/admin/plans/{plan_id}/delete", plan_delete_submit)
