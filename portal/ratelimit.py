"""Sign-in lockout counters in Redis: current at once, unlike the audit job's records."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from hotspotd.settings import Settings


@dataclass(frozen=True)
class Lockout:
    locked: bool
    retry_after_s: int = 0


def _keys(settings: Settings, username: str, address: str | None) -> tuple[str, str]:
    prefix = settings.redis.key_prefix
    return (
        f"{prefix}login-fail:user:{username.strip().lower()[:100]}",
        f"{prefix}login-fail:addr:{address or 'unknown'}",
    )


async def check_lockout(
    redis: Redis, settings: Settings, username: str, address: str | None
) -> Lockout:
    """Return whether this user name or source address is locked out right now."""
    user_key, addr_key = _keys(settings, username, address)
    auth = settings.auth
    async with redis.pipeline(transaction=False) as pipe:
        pipe.get(user_key)
        pipe.ttl(user_key)
        pipe.get(addr_key)
        pipe.ttl(addr_key)
        user_count, user_ttl, addr_count, addr_ttl = await pipe.execute()
    waits = []
    if user_count is not None and int(user_count) >= auth.lockout_threshold:
        waits.append(int(user_ttl))
    if addr_count is not None and int(addr_count) >= auth.address_lockout_threshold:
        waits.append(int(addr_ttl))
    if waits:
        return Lockout(True, max(1, max(waits)))
    return Lockout(False)


async def count_failure(
    redis: Redis, settings: Settings, username: str, address: str | None
) -> None:
    """Count a failed sign-in against the user name and the address; lock at the threshold."""
    user_key, addr_key = _keys(settings, username, address)
    auth = settings.auth
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(user_key)
        pipe.incr(addr_key)
        # NX: the window starts at the first failure, later failures do not extend it.
        pipe.expire(user_key, auth.lockout_window_s, nx=True)
        pipe.expire(addr_key, auth.lockout_window_s, nx=True)
        user_count, addr_count, _, _ = await pipe.execute()
    # Reaching the threshold turns the window into the lockout period.
    async with redis.pipeline(transaction=False) as pipe:
        if int(user_count) == auth.lockout_threshold:
            pipe.expire(user_key, auth.lockout_s)
        if int(addr_count) == auth.address_lockout_threshold:
            pipe.expire(addr_key, auth.lockout_s)
        await pipe.execute()


async def clear_failures(redis: Redis, settings: Settings, username: str) -> None:
    """Forget a user name's failures after a successful sign-in (the address keeps its count)."""
    user_key, _ = _keys(settings, username, None)
    await redis.delete(user_key)
