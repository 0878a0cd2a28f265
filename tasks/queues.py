"""Queue groups and their Redis queue names."""

from __future__ import annotations

from typing import Literal, get_args

QueueGroup = Literal["critical", "management", "general"]
QUEUE_GROUPS: tuple[QueueGroup, ...] = get_args(QueueGroup)


def queue_name(key_prefix: str, group: QueueGroup) -> str:
    """Return the Redis key of a queue group's queue."""
    return f"{key_prefix}queue:{group}"
