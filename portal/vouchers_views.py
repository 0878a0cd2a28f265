"""Vouchers: JSON API and admin pages (batches, status, CSV export, printable sheet, revoke).

A batch is recorded before its generation job is queued (202 + job id); progress and
completion arrive as events (VoucherBatchProgress, VoucherBatchCreated). Revocation goes
through the critical queue (disable + disconnect).
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections import Counter
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hotspotd.store import event_log, plans, tenants
from hotspotd.store import vouchers as voucher_store
from hotspotd.store.admins import Actor
from hotspotd.store.errors import NotFound
from hotspotd.store.vouchers import BatchParams, VoucherBatch
from hotspotd.timeutil import now_s
from portal.auth import Role, require_actor
from portal.http_errors import http_error
from portal.keys import DB_KEY, REDIS_KEY, SETTINGS_KEY
from portal.request_body import read_body
from portal.templating import render
from portal.voucher_qr import qr_svg, voucher_url
from radius import vouchers as radius_vouchers
from tasks.voucher_enqueue import enqueue_generate_vouchers, enqueue_revoke_voucher
from tasks.vouchers import MAX_BATCH, Voucher, batch_vouchers

MANAGERS: tuple[Role, ...] = ("system", "admin")
# Letters, digits and "-": a prefix stays a valid RADIUS user name and easy to type.
_PREFIX = r"^([A-Z0-9][A-Z0-9-]{0,9})?$"
_STATUSES = ("unused", "active", "used_up", "expired", "revoked")
# Cards per printable sheet page: 240 = 10 A4 pages of 24 cards.
PRINT_PAGE = 240


class BatchInput(BaseModel):
    """A voucher batch as the API accepts it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    plan_id: int
    count: int = Field(ge=1, le=MAX_BATCH)
    prefix: str = Field(default="", pattern=_PREFIX)
    code_length: int = Field(default=8, ge=6, le=16)
    expires_at: int | None = None
    price_cents: int | None = Field(default=None, ge=0, le=10**10)


class _FieldErrors(Exception):
    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("invalid input")
        self.fields = fields


def _scope(actor: Actor) -> int | None:
    return None if actor.is_system else (actor.tenant_id if actor.tenant_id is not None else -1)


async def create_batch(
    request: web.Request, actor: Actor, data: dict[str, Any]
) -> tuple[VoucherBatch, str]:
    """Validate, record the batch, queue its job; return the batch and the job id."""
    app = request.app
    db = app[DB_KEY]
    given_tenant = data.pop("tenant_id", None)
    if actor.is_system:
        try:
            tenant = await tenants.get_tenant(db, int(given_tenant))
        except (TypeError, ValueError, NotFound):
            raise _FieldErrors({"tenant_id": "choose a tenant"}) from None
    else:
        if actor.tenant_id is None:
            raise http_error(request, web.HTTPForbidden, "no tenant")
        tenant = await tenants.get_tenant(db, actor.tenant_id)
    try:
        values = BatchInput.model_validate(data)
    except ValidationError as exc:
        fields: dict[str, str] = {}
        for error in exc.errors():
            name = ".".join(str(p) for p in error["loc"]) or "body"
            fields.setdefault(name, str(error["msg"]))
        raise _FieldErrors(fields) from None
    try:
        plan = await plans.get_plan(db, tenant.id, values.plan_id)
    except NotFound:
        raise _FieldErrors({"plan_id": "no such plan"}) from None
    if values.expires_at is not None and values.expires_at <= now_s():
        raise _FieldErrors({"expires_at": "must be in the future"})
    params = BatchParams(
        plan_id=plan.id,
        count=values.count,
        prefix=values.prefix,
        code_length=values.code_length,
        expires_at=values.expires_at,
        price_cents=values.price_cents if values.price_cents is not None else plan.price_cents,
        currency=plan.currency,
        validity_s=plan.validity_s,
    )
    # Recorded first: the batch reconciler finds it if Redis loses the job.
    async with db.transaction() as conn:
        batch = await voucher_store.record_batch_request(conn, tenant.id, params)
    job_id = await enqueue_generate_vouchers(app[REDIS_KEY], app[SETTINGS_KEY], batch.id)
    return batch, job_id


async def _find_batch(request: web.Request, actor: Actor) -> VoucherBatch:
    try:
        batch_id = int(request.match_info["batch_id"])
        return await voucher_store.get_batch(request.app[DB_KEY], _scope(actor), batch_id)
    except (ValueError, NotFound):
        raise http_error(request, web.HTTPNotFound, "no such voucher batch") from None


async def _revoke(request: web.Request, actor: Actor) -> str:
    code = request.match_info["code"]
    db = request.app[DB_KEY]
    batch_id = await radius_vouchers.batch_of(db, code)
    try:
        if batch_id is None:
            raise NotFound(code)
        await voucher_store.get_batch(db, _scope(actor), batch_id)
    except NotFound:
        raise http_error(request, web.HTTPNotFound, "no such voucher") from None
    return await enqueue_revoke_voucher(request.app[REDIS_KEY], request.app[SETTINGS_KEY], code)


def _batch_json(batch: VoucherBatch) -> dict[str, Any]:
    return {
        "id": batch.id,
        "tenant_id": batch.tenant_id,
        "state": batch.state,
        "created": batch.created,
        "created_at": batch.created_at,
        **batch.params.model_dump(),
    }


def _counts(vouchers: list[Voucher]) -> dict[str, int]:
    counted = Counter(str(v.status) for v in vouchers)
    return {status: counted[status] for status in _STATUSES}


# -- JSON API ---------------------------------------------------------------------------------


async def post_batch(request: web.Request) -> web.Response:
    """POST /api/voucher-batches: record a batch and queue its generation (202)."""
    actor = await require_actor(request, *MANAGERS)
    try:
        batch, job_id = await create_batch(request, actor, await read_body(request))
    except _FieldErrors as exc:
        raise http_error(
            request, web.HTTPUnprocessableEntity, "invalid input", fields=exc.fields
        ) from None
    location = f"/api/voucher-batches/{batch.id}"
    return web.json_response(
        {"batch_id": batch.id, "job_id": job_id, "status_url": location},
        status=202,
        headers={"Location": location},
    )


async def get_batches(request: web.Request) -> web.Response:
    """GET /api/voucher-batches."""
    actor = await require_actor(request)
    found = await voucher_store.list_batches(request.app[DB_KEY], _scope(actor))
    return web.json_response({"batches": [_batch_json(b) for b in found]})


async def get_batch(request: web.Request) -> web.Response:
    """GET /api/voucher-batches/{id}: the batch, counts by status and every voucher."""
    actor = await require_actor(request)
    batch = await _find_batch(request, actor)
    vouchers = await batch_vouchers(request.app[DB_KEY], batch)
    return web.json_response(
        {
            **_batch_json(batch),
            "counts": _counts(vouchers),
            "vouchers": [v.as_dict() for v in vouchers],
        }
    )


async def get_batch_csv(request: web.Request) -> web.Response:
    """GET /api/voucher-batches/{id}/vouchers.csv: the codes with status, for printing shops."""
    actor = await require_actor(request)
    batch = await _find_batch(request, actor)
    vouchers = await batch_vouchers(request.app[DB_KEY], batch)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["code", "status", "validity_s", "price", "currency", "first_login", "ends_at", "octets"]
    )
    price = f"{batch.params.price_cents / 100:.2f}"
    for v in vouchers:
        writer.writerow(
            [
                v.code,
                v.status,
                v.validity_s or "",
                price,
                batch.params.currency,
                v.first_login or "",
                v.ends_at or "",
                v.octets,
            ]
        )
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="vouchers-{batch.id}.csv"',
            "Cache-Control": "no-store",
        },
    )


async def post_revoke(request: web.Request) -> web.Response:
    """POST /api/vouchers/{code}/revoke: 202 + job id."""
    actor = await require_actor(request, *MANAGERS)
    return web.json_response({"job_id": await _revoke(request, actor)}, status=202)


# -- admin pages ------------------------------------------------------------------------------


def _form_to_api(form: dict[str, Any], tenant_zone: str) -> dict[str, Any]:
    fields: dict[str, str] = {}
    data: dict[str, Any] = {"prefix": str(form.get("prefix", "")).upper()}
    for name in ("plan_id", "count", "code_length"):
        try:
            data[name] = int(form.get(name, ""))
        except ValueError:
            fields[name] = "a whole number"
    if "tenant_id" in form:
        data["tenant_id"] = form["tenant_id"]
    price = str(form.get("price", "")).strip()
    if price:
        if not re.fullmatch(r"[0-9]+(\.[0-9]{1,2})?", price):
            fields["price"] = "a price like 50 or 49.50"
        else:
            data["price_cents"] = round(float(price) * 100)
    expires = str(form.get("expires_on", "")).strip()
    if expires:
        try:
            day = date.fromisoformat(expires)
            # The end of that day where the operator is.
            end = datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=ZoneInfo(tenant_zone))
            data["expires_at"] = int(end.timestamp())
        except ValueError:
            fields["expires_on"] = "a date"
    if fields:
        raise _FieldErrors(fields)
    return data


async def _page(
    request: web.Request,
    actor: Actor,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
) -> web.Response:
    db = request.app[DB_KEY]
    scope = _scope(actor)
    context = {
        "batches": await voucher_store.list_batches(db, scope),
        "plans": await plans.list_plans_scoped(db, scope),
        "tenants": await tenants.list_tenants(db) if actor.is_system else [],
        "can_manage": actor.role in MANAGERS,
        "errors": errors or {},
        "form": form or {},
        "max_batch": MAX_BATCH,
    }
    # Live updates start after what the page shows (no replay of older events).
    context["last_event_id"] = await event_log.latest_event_id(request.app[DB_KEY])
    return render(request, "admin/vouchers.html", context, status=status)


async def vouchers_page(request: web.Request) -> web.Response:
    """GET /admin/vouchers: batches and the form for a new one."""
    return await _page(request, await require_actor(request))


async def vouchers_submit(request: web.Request) -> web.Response:
    """POST /admin/vouchers: queue a batch, then show its page (it fills in live)."""
    actor = await require_actor(request, *MANAGERS)
    form = await read_body(request)
    db = request.app[DB_KEY]
    zone = "UTC"
    tenant_id = actor.tenant_id if not actor.is_system else None
    if tenant_id is None and str(form.get("tenant_id", "")).isdigit():
        tenant_id = int(form["tenant_id"])
    if tenant_id is not None:
        with contextlib.suppress(NotFound):
            zone = (await tenants.get_tenant(db, tenant_id)).timezone
    try:
        batch, _ = await create_batch(request, actor, _form_to_api(form, zone))
    except _FieldErrors as exc:
        return await _page(request, actor, status=422, errors=exc.fields, form=form)
    raise web.HTTPSeeOther(location=f"/admin/vouchers/{batch.id}")


async def batch_page(request: web.Request) -> web.Response:
    """GET /admin/vouchers/{id}: the batch's vouchers with their status."""
    actor = await require_actor(request)
    batch = await _find_batch(request, actor)
    db = request.app[DB_KEY]
    vouchers = await batch_vouchers(db, batch)
    try:
        plan_name = (await plans.get_plan(db, batch.tenant_id, batch.params.plan_id)).name
    except NotFound:
        plan_name = f"plan {batch.params.plan_id}"
    context = {
        "batch": batch,
        "plan_name": plan_name,
        "vouchers": vouchers,
        "counts": _counts(vouchers),
        "can_manage": actor.role in MANAGERS,
        "notice": request.query.get("notice", ""),
    }
    # Live updates start after what the page shows (no replay of older events).
    context["last_event_id"] = await event_log.latest_event_id(request.app[DB_KEY])
    return render(request, "admin/voucher_batch.html", context)


async def batch_print_page(request: web.Request) -> web.Response:
    """GET /admin/vouchers/{id}/print: a sheet of cards (unused codes) to print and cut."""
    actor = await require_actor(request)
    batch = await _find_batch(request, actor)
    db = request.app[DB_KEY]
    tenant = await tenants.get_tenant(db, batch.tenant_id)
    try:
        plan_name = (await plans.get_plan(db, batch.tenant_id, batch.params.plan_id)).name
    except NotFound:
        plan_name = ""
    unused = [v for v in await batch_vouchers(db, batch) if v.status == "unused"]
    # QR codes cost ~3 ms each to draw: a batch of 10,000 prints in sheets of PRINT_PAGE.
    pages = max(1, -(-len(unused) // PRINT_PAGE))
    try:
        page = min(max(1, int(request.query.get("page", "1"))), pages)
    except ValueError:
        page = 1
    public_url = request.app[SETTINGS_KEY].portal.public_url
    vouchers = [
        {"code": v.code, "qr": qr_svg(voucher_url(public_url, tenant.slug, v.code))}
        for v in unused[(page - 1) * PRINT_PAGE : page * PRINT_PAGE]
    ]
    validity_s = batch.params.validity_s
    if validity_s % 86400 == 0:
        validity = f"{validity_s // 86400} day(s)"
    elif validity_s % 3600 == 0:
        validity = f"{validity_s // 3600} hour(s)"
    else:
        validity = f"{validity_s // 60} minutes"
    context = {
        "batch": batch,
        "tenant": tenant,
        "plan_name": plan_name,
        "vouchers": vouchers,
        "unused": len(unused),
        "page": page,
        "pages": pages,
        "price": f"{batch.params.price_cents / 100:.2f} {batch.params.currency}",
        "validity": validity,
    }
    return render(request, "admin/vouchers_print.html", context)


async def revoke_submit(request: web.Request) -> web.Response:
    """POST /admin/vouchers/{code}/revoke."""
    actor = await require_actor(request, *MANAGERS)
    code = request.match_info["code"]
    await _revoke(request, actor)
    batch_id = await radius_vouchers.batch_of(request.app[DB_KEY], code)
    raise web.HTTPSeeOther(location=f"/admin/vouchers/{batch_id}?notice=revoking+{code}")


def setup_vouchers_views(app: web.Application) -> None:
    """Register the vouchers API and admin pages."""
    r = app.router
    r.add_post("/api/voucher-batches", post_batch)
    r.add_get("/api/voucher-batches", get_batches)
    r.add_get("/api/voucher-batches/{batch_id}", get_batch)
    r.add_get("/api/voucher-batches/{batch_id}/vouchers.csv", get_batch_csv)
    r.add_post("/api/vouchers/{code}/revoke", post_revoke)
    r.add_get("/admin/vouchers", vouchers_page)
    r.add_post("/admin/vouchers", vouchers_submit)
    r.add_get("/admin/vouchers/{batch_id}", batch_page)
    r.add_get("/admin/vouchers/{batch_id}/print", batch_print_page)
    r.add_post("/admin/vouchers/{code}/revoke", revoke_submit)
