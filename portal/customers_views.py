"""Customers: search, a customer's subscriptions with usage from radacct, and the admin actions
on a subscription (suspend, resume, extend/renew through the critical queue, 202 + job id)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiohttp import web

from hotspotd.db import Database
from hotspotd.store import customer_search, event_log, plans
from hotspotd.store import vouchers as voucher_store
from hotspotd.store.admins import Actor
from hotspotd.store.errors import NotFound
from hotspotd.store.subscriptions import Subscription
from portal.auth import Role, require_actor
from portal.http_errors import http_error
from portal.keys import DB_KEY, REDIS_KEY, SETTINGS_KEY
from portal.request_body import read_body
from portal.templating import render
from radius import accounting
from radius import vouchers as radius_vouchers
from tasks.subscription_enqueue import (
    enqueue_reconnect_subscription,
    enqueue_resume_account,
    enqueue_suspend_account,
)
from tasks.vouchers import batch_vouchers

MANAGERS: tuple[Role, ...] = ("system", "admin")
_MAX_EXTEND_S = 400 * 86400


def _scope(actor: Actor) -> int | None:
    return None if actor.is_system else (actor.tenant_id if actor.tenant_id is not None else -1)


async def _usage(db: Database, sub: Subscription) -> dict[str, Any]:
    usage = await accounting.user_usage(db, sub.username)
    sessions = await accounting.user_sessions(db, sub.username, limit=10)
    return {
        "session_time_s": usage.session_time_s,
        "octets": usage.octets,
        "first_login": int(usage.first_start.timestamp()) if usage.first_start else None,
        "online": any(s.is_open for s in sessions),
        "sessions": [
            {
                "started_at": int(s.started_at.timestamp()) if s.started_at else None,
                "stopped_at": int(s.stopped_at.timestamp()) if s.stopped_at else None,
                "session_time_s": s.session_time_s,
                "octets": s.input_octets + s.output_octets,
                "framed_ip": s.framed_ip,
                "mac": s.mac,
                "nas_ip": s.nas_ip,
                "terminate_cause": s.terminate_cause,
            }
            for s in sessions
        ],
    }


async def _customer_detail(request: web.Request, actor: Actor) -> dict[str, Any]:
    db = request.app[DB_KEY]
    try:
        customer_id = int(request.match_info["customer_id"])
        customer = await customer_search.get_customer_scoped(db, _scope(actor), customer_id)
    except (ValueError, NotFound):
        raise http_error(request, web.HTTPNotFound, "no such customer") from None
    plan_names = {p.id: p.name for p in await plans.list_plans_scoped(db, customer.tenant_id)}
    subs = []
    for sub in await customer_search.customer_subscriptions(db, customer.id):
        data = sub.model_dump(exclude={"password"})
        data["plan_name"] = plan_names.get(sub.plan_id, "")
        data["usage"] = await _usage(db, sub)
        subs.append(data)
    return {"customer": customer.model_dump(), "subscriptions": subs}


async def _subscription(request: web.Request, actor: Actor) -> Subscription:
    try:
        subscription_id = int(request.match_info["subscription_id"])
        return await customer_search.get_subscription_scoped(
            request.app[DB_KEY], _scope(actor), subscription_id
        )
    except (ValueError, NotFound):
        raise http_error(request, web.HTTPNotFound, "no such subscription") from None


async def _act(request: web.Request, actor: Actor, action: str, data: dict[str, Any]) -> str:
    sub = await _subscription(request, actor)
    redis, settings = request.app[REDIS_KEY], request.app[SETTINGS_KEY]
    if action == "suspend":
        return await enqueue_suspend_account(redis, settings, sub.id)
    if action == "resume":
        return await enqueue_resume_account(redis, settings, sub.id)
    if action != "extend":
        raise http_error(request, web.HTTPNotFound, "no such action")
    if sub.status == "pending":
        raise http_error(request, web.HTTPConflict, "the subscription is not provisioned yet")
    fields: dict[str, str] = {}
    extend_s: int | None = None
    plan_id: int | None = None
    raw_extend = data.get("extend_s")
    if raw_extend not in (None, ""):
        try:
            extend_s = int(raw_extend)
            if not 0 < extend_s <= _MAX_EXTEND_S:
                raise ValueError
        except (TypeError, ValueError):
            fields["extend_s"] = f"seconds, 1 to {_MAX_EXTEND_S}"
    raw_plan = data.get("plan_id")
    if raw_plan not in (None, ""):
        try:
            plan_id = int(raw_plan)
            await plans.get_plan(request.app[DB_KEY], sub.tenant_id, plan_id)
        except (TypeError, ValueError, NotFound):
            fields["plan_id"] = "no such plan"
    if fields:
        raise http_error(request, web.HTTPUnprocessableEntity, "invalid input", fields=fields)
    # No extend_s: a renewal by the plan's validity (the current or the given plan).
    return await enqueue_reconnect_subscription(
        redis,
        settings,
        sub.id,
        base_expires_at=sub.expires_at,
        extend_s=extend_s,
        plan_id=plan_id,
    )


# -- JSON API ---------------------------------------------------------------------------------


async def get_customers(request: web.Request) -> web.Response:
    """GET /api/customers?q=: search by phone, name, MAC or user name."""
    actor = await require_actor(request)
    hits = await customer_search.search_customers(
        request.app[DB_KEY], _scope(actor), request.query.get("q", "")[:100]
    )
    return web.json_response({"customers": [h.model_dump() for h in hits]})


async def get_customer(request: web.Request) -> web.Response:
    """GET /api/customers/{id}: the customer, its subscriptions and their usage."""
    actor = await require_actor(request)
    return web.json_response(await _customer_detail(request, actor))


async def post_subscription_action(request: web.Request) -> web.Response:
    """POST /api/subscriptions/{id}/{suspend|resume|extend}: 202 + job id."""
    actor = await require_actor(request, *MANAGERS)
    job_id = await _act(request, actor, request.match_info["action"], await read_body(request))
    return web.json_response({"job_id": job_id}, status=202)


async def get_voucher(request: web.Request) -> web.Response:
    """GET /api/vouchers/{code}: a voucher's status and usage."""
    actor = await require_actor(request)
    db = request.app[DB_KEY]
    code = request.match_info["code"]
    batch_id = await radius_vouchers.batch_of(db, code)
    try:
        if batch_id is None:
            raise NotFound(code)
        batch = await voucher_store.get_batch(db, _scope(actor), batch_id)
    except NotFound:
        raise http_error(request, web.HTTPNotFound, "no such voucher") from None
    (voucher,) = await batch_vouchers(db, batch, code=code)
    return web.json_response(voucher.as_dict())


# -- admin pages ------------------------------------------------------------------------------


async def customers_page(request: web.Request) -> web.Response:
    """GET /admin/customers?q=: search results (a voucher code jumps to its batch)."""
    actor = await require_actor(request)
    db = request.app[DB_KEY]
    query = request.query.get("q", "")[:100]
    voucher = None
    if query.strip():
        batch_id = await radius_vouchers.batch_of(db, query.strip())
        if batch_id is not None:
            try:
                batch = await voucher_store.get_batch(db, _scope(actor), batch_id)
                found = await batch_vouchers(db, batch, code=query.strip())
                voucher = asdict(found[0]) if found else None
            except NotFound:
                voucher = None
    hits = await customer_search.search_customers(db, _scope(actor), query)
    return render(
        request, "admin/customers.html", {"query": query, "hits": hits, "voucher": voucher}
    )


async def customer_page(request: web.Request) -> web.Response:
    """GET /admin/customers/{id}."""
    actor = await require_actor(request)
    detail = await _customer_detail(request, actor)
    db = request.app[DB_KEY]
    context = {
        **detail,
        "can_manage": actor.role in MANAGERS,
        "plans": await plans.list_plans_scoped(db, detail["customer"]["tenant_id"]),
        "notice": request.query.get("notice", ""),
    }
    # Live updates start after what the page shows (no replay of older events).
    context["last_event_id"] = await event_log.latest_event_id(request.app[DB_KEY])
    return render(request, "admin/customer.html", context)


async def subscription_action_submit(request: web.Request) -> web.Response:
    """POST /admin/subscriptions/{id}/{action}: queue it, back to the customer's page."""
    actor = await require_actor(request, *MANAGERS)
    sub = await _subscription(request, actor)
    action = request.match_info["action"]
    job_id = await _act(request, actor, action, await read_body(request))
    raise web.HTTPSeeOther(
        location=f"/admin/customers/{sub.customer_id}?notice={action}+queued+({job_id})"
    )


def setup_customers_views(app: web.Application) -> None:
    """Register the customers API and admin pages."""
    r = app.router
    r.add_get("/api/customers", get_customers)
    r.add_get("/api/customers/{customer_id}", get_customer)
    r.add_post("/api/subscriptions/{subscription_id}/{action}", post_subscription_action)
    r.add_get("/api/vouchers/{code}", get_voucher)
    r.add_get("/admin/customers", customers_page)
    r.add_get("/admin/customers/{customer_id}", customer_page)
    r.add_post("/admin/subscriptions/{subscription_id}/{action}", subscription_action_submit)
