"""Validation of names FreeRADIUS looks up in SQL (user names, group names)."""

from __future__ import annotations

import re

# rlm_sql escapes every character outside its safe_characters (letters, digits, "@.-_: /")
# before a lookup, so a stored name with another character (e.g. "+") never matches; the
# filter_username policy rejects spaces, "..", a trailing dot and odd realms ("@").
_NAME = re.compile(r"^[A-Za-z0-9_:-](?:[A-Za-z0-9._:-]{0,62}[A-Za-z0-9_:-])?$")


def check_name(kind: str, name: str) -> str:
    """Return name if FreeRADIUS can look it up as given, else raise ValueError."""
    if not _NAME.match(name) or ".." in name:
        raise ValueError(f"invalid RADIUS {kind} name: {name!r}")
    return name
