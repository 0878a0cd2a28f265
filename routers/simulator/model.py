"""In-memory model of the RouterOS menus the simulator serves."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Literal

from routers.simulator.menus import SPECS, MenuSpec

Row = dict[str, str]
CommandResult = list[dict[str, str]] | str | None
# Handlers may be plain functions or coroutines (e.g. a login that asks RADIUS first).
CommandHandler = Callable[
    ["SimulatedRouter", dict[str, str]], CommandResult | Awaitable[CommandResult]
]

_TRUE = frozenset({"yes", "true"})
_FALSE = frozenset({"no", "false"})


class TrapError(Exception):
    """A RouterOS error reply: becomes `!trap =message=... =category=N` (None: no category)."""

    def __init__(self, message: str, category: int | None = 1) -> None:
        super().__init__(message)
        self.message = message
        self.category = category


class UnknownMenuError(TrapError, KeyError):
    """No such menu: a TrapError for the API, a KeyError for Python callers."""

    def __str__(self) -> str:
        return self.message


def format_duration(seconds: float) -> str:
    """Format seconds the way RouterOS prints durations ("1w2d3h4m5s", "0s")."""
    total = int(seconds)
    if total <= 0:
        return "0s"
    parts = []
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def parse_duration(text: str) -> float:
    """Parse a RouterOS duration ("1d2h", "300ms", "00:05:00", "30") into seconds."""
    text = text.strip()
    if text in ("", "none"):
        return 0.0
    if ":" in text:
        days = 0.0
        if "d" in text:
            d, _, text = text.partition("d")
            days = float(d)
        h, m, s = [*text.split(":"), "0", "0"][:3]
        return days * 86400 + int(h) * 3600 + int(m) * 60 + float(s)
    units = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    total = 0.0
    number = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isdigit() or ch == ".":
            number += ch
            i += 1
            continue
        unit = "ms" if text.startswith("ms", i) else ch
        if unit not in units or not number:
            raise ValueError(f"bad duration {text!r}")
        total += float(number) * units[unit]
        number = ""
        i += len(unit)
    if number:
        total += float(number)
    return total


def normalise_bool(name: str, value: str) -> str:
    """Map yes/no/true/false onto RouterOS's printed true/false."""
    lowered = value.lower()
    if lowered in _TRUE:
        return "true"
    if lowered in _FALSE:
        return "false"
    raise TrapError(f"value of {name} must be yes or no", 1)


class Menu:
    """One menu: an ordered collection of items with string properties."""

    def __init__(self, spec: MenuSpec) -> None:
        self.spec = spec
        self.path = spec.path
        self._items: dict[str, Row] = {}
        # key value -> id, so uniqueness checks and lookups by name stay O(1) with many items.
        self._by_key: dict[str, str] = {}
        self._next_id = 1
        self.on_remove: list[Callable[[dict[str, str]], None]] = []
        self.on_change: list[Callable[[str, dict[str, str]], None]] = []
        # Called with the menu before every API print (refresh computed values such as uptime).
        self.on_print: list[Callable[[Menu], None]] = []
        # For settings menus: extra values computed at read time (e.g. /system/resource uptime).
        self.compute: Callable[[], dict[str, str]] | None = None
        for row in spec.initial:
            if spec.single:
                self._items[""] = dict(row)
            else:
                self._store(dict(row))

    # -- helpers -------------------------------------------------------------------------------
    def _normalise(self, props: Mapping[str, str]) -> Row:
        out: Row = {}
        for name, value in props.items():
            if name == ".id":
                continue
            value = "" if value is None else str(value)
            if name in self.spec.booleans and value != "":
                value = normalise_bool(name, value)
            out[name] = value
        return out

    def _store(self, row: Row) -> str:
        item_id = f"*{self._next_id:X}"
        self._next_id += 1
        self._items[item_id] = row
        key = self.spec.key
        if key is not None and key in row:
            self._by_key[row[key]] = item_id
        return item_id

    def _unindex(self, item_id: str) -> None:
        key = self.spec.key
        if key is not None:
            value = self._items[item_id].get(key)
            if value is not None and self._by_key.get(value) == item_id:
                del self._by_key[value]

    def _check_unique(self, row: Mapping[str, str], own_id: str | None) -> None:
        key = self.spec.key
        if key is None or key not in row:
            return
        existing = self._by_key.get(row[key])
        if existing is not None and existing != own_id:
            raise TrapError(f"failure: already have {self.spec.noun} with this name", 1)

    def _fire_change(self, item_id: str) -> None:
        if self.on_change:
            snapshot = self.get(item_id)
            for hook in list(self.on_change):
                hook(item_id, dict(snapshot))

    # -- public API -----------------------------------------------------------------------------
    @property
    def single(self) -> bool:
        """Return whether this is a settings menu holding one item."""
        return self.spec.single

    def resolve(self, ref: str) -> str:
        """Return the id of the item named by an id ("*1") or, in keyed menus, by its key value."""
        if self.spec.single:
            return ""
        if ref in self._items:
            return ref
        if ref.startswith("*"):
            # RouterOS accepts ids case-insensitively and without leading zeros.
            try:
                candidate = f"*{int(ref[1:], 16):X}"
            except ValueError:
                candidate = ""
            if candidate in self._items:
                return candidate
        elif ref in self._by_key:
            return self._by_key[ref]
        raise TrapError("no such item", 0)

    def add(self, props: Mapping[str, str]) -> str:
        """Add an item (defaults filled in) and return its new id."""
        if self.spec.single:
            raise TrapError("no such command", 0)
        row = self._normalise(props)
        for name in self.spec.required:
            if not row.get(name):
                raise TrapError(f"failure: {name} must be set", 1)
        for name, value in self.spec.defaults.items():
            row.setdefault(name, value)
        self._check_unique(row, None)
        item_id = self._store(row)
        self._fire_change(item_id)
        return item_id

    def set(self, item_id: str, props: Mapping[str, str]) -> None:
        """Update properties of one item (settings menus ignore item_id)."""
        item_id = self.resolve(item_id)
        if item_id not in self._items:
            raise TrapError("no such item", 0)
        row = self._normalise(props)
        self._check_unique(row, item_id)
        self._unindex(item_id)
        self._items[item_id].update(row)
        key = self.spec.key
        if key is not None and key in self._items[item_id]:
            self._by_key[self._items[item_id][key]] = item_id
        self._fire_change(item_id)

    def unset(self, item_id: str, names: Iterable[str]) -> None:
        """Remove properties from one item (RouterOS `unset`)."""
        item_id = self.resolve(item_id)
        self._unindex(item_id)
        row = self._items[item_id]
        for name in names:
            row.pop(name, None)
        if self.spec.key is not None and self.spec.key in row:
            self._by_key[row[self.spec.key]] = item_id
        self._fire_change(item_id)

    def remove(self, item_id: str) -> None:
        """Remove one item and run the on_remove hooks with it."""
        if self.spec.single:
            raise TrapError("no such command", 0)
        item_id = self.resolve(item_id)
        row = self._items[item_id]
        if self.spec.protect_default and row.get("default") == "true":
            raise TrapError(f"failure: can not remove default {self.spec.noun}", 1)
        self._unindex(item_id)
        del self._items[item_id]
        removed = {".id": item_id, **row}
        for hook in list(self.on_remove):
            hook(dict(removed))

    def clear(self, *, run_hooks: bool = True) -> None:
        """Remove every item (settings menus are left alone)."""
        if self.spec.single:
            return
        ids = list(self._items)
        if not run_hooks:
            self._items.clear()
            self._by_key.clear()
            return
        for item_id in ids:
            if item_id in self._items:
                self.remove(item_id)

    def get(self, item_id: str) -> dict[str, str]:
        """Return a copy of one item including ".id" (settings menus: the settings, no ".id")."""
        if self.spec.single:
            row = dict(self._items[""])
            if self.compute is not None:
                row.update(self.compute())
            return row
        item_id = self.resolve(item_id)
        return {".id": item_id, **self._items[item_id]}

    def items(self) -> list[dict[str, str]]:
        """Return copies of all items in order, each with ".id" (settings menus: one row)."""
        if self.spec.single:
            return [self.get("")]
        return [{".id": item_id, **row} for item_id, row in self._items.items()]

    def find(self, **eq: str) -> list[dict[str, str]]:
        """Return items whose properties equal the given values (kwargs use '_' for '-')."""
        wanted: Row = {}
        for name, value in eq.items():
            prop = name.replace("_", "-") if name != "_id" else ".id"
            value = str(value)
            if prop in self.spec.booleans and value.lower() in _TRUE | _FALSE:
                value = normalise_bool(prop, value)
            wanted[prop] = value
        if self.spec.single:
            rows = self.items()
            return [row for row in rows if all(row.get(k) == v for k, v in wanted.items())]
        key = self.spec.key
        if key is not None and key in wanted:
            # Fast path for lookups by name.
            item_id = self._by_key.get(wanted[key])
            candidates = [] if item_id is None else [(item_id, self._items[item_id])]
        else:
            candidates = list(self._items.items())
        return [
            {".id": item_id, **row}
            for item_id, row in candidates
            if all((item_id if k == ".id" else row.get(k)) == v for k, v in wanted.items())
        ]

    def __len__(self) -> int:
        return len(self._items)


class SimulatedRouter:
    """A MikroTik router's state: menus, credentials, extra commands and failure knobs."""

    def __init__(
        self,
        *,
        identity: str = "MikroTik",
        version: str = "7.18.2 (stable)",
        board: str = "hAP ac^2",
        username: str = "admin",
        password: str = "",
        login_method: Literal["plain", "challenge"] = "plain",
        architecture: str = "arm",
        cpu_count: int = 4,
        total_memory: int = 134217728,
    ) -> None:
        if login_method not in ("plain", "challenge"):
            raise ValueError(f"unknown login method {login_method!r}")
        self.version = version
        self.board = board
        self.username = username
        self.password = password
        self.login_method = login_method
        self.architecture = architecture
        self.cpu_count = cpu_count
        self.total_memory = total_memory
        self.free_memory = total_memory * 3 // 4
        self.cpu_load = 3
        self.boot_time = time.monotonic()
        self.menus: dict[str, Menu] = {spec.path: Menu(spec) for spec in SPECS}
        self.commands: dict[str, CommandHandler] = {}
        # Test knobs: a trap returned on every call of a command path (or menu path) ...
        self.fail_on: dict[str, str] = {}
        # ... a trap returned once on the next call ...
        self._fail_next: dict[str, list[TrapError]] = {}
        # ... and a delay before a command path (or menu path) is answered.
        self.delay_s: dict[str, float] = {}
        self.identity = identity
        self.menus["/system/resource"].compute = self._resource

    # -- properties ----------------------------------------------------------------------------
    @property
    def identity(self) -> str:
        """Return the router's identity (/system/identity name)."""
        return self.menus["/system/identity"].get("")["name"]

    @identity.setter
    def identity(self, value: str) -> None:
        self.menus["/system/identity"].set("", {"name": value})

    @property
    def uptime_s(self) -> float:
        """Return seconds since the simulated boot."""
        return time.monotonic() - self.boot_time

    @property
    def uptime(self) -> str:
        """Return the uptime in RouterOS form ("1d2h3m4s")."""
        return format_duration(self.uptime_s)

    def _resource(self) -> dict[str, str]:
        return {
            "uptime": self.uptime,
            "version": self.version,
            "build-time": "2025-03-11 11:59:04",
            "factory-software": "6.44.6",
            "free-memory": str(self.free_memory),
            "total-memory": str(self.total_memory),
            "cpu": "ARM" if self.architecture.startswith("arm") else self.architecture.upper(),
            "cpu-count": str(self.cpu_count),
            "cpu-frequency": "716",
            "cpu-load": str(self.cpu_load),
            "free-hdd-space": "4509696",
            "total-hdd-space": "16777216",
            "architecture-name": self.architecture,
            "board-name": self.board,
            "platform": "MikroTik",
        }

    # -- menus and commands ----------------------------------------------------------------------
    def menu(self, path: str) -> Menu:
        """Return the menu at path ("/ip/hotspot/active"); UnknownMenuError if there is none."""
        try:
            return self.menus[path.rstrip("/") or "/"]
        except KeyError:
            raise UnknownMenuError("no such command prefix", 0) from None

    def add_menu(self, spec: MenuSpec) -> Menu:
        """Add (or replace) a menu described by spec."""
        menu = Menu(spec)
        self.menus[spec.path] = menu
        return menu

    def register_command(self, path: str, handler: CommandHandler) -> None:
        """Register an extra command such as "/ip/hotspot/active/login" (returns rows or a ret)."""
        self.commands[path] = handler

    # -- failure knobs -------------------------------------------------------------------------
    def fail_next(self, path: str, message: str, category: int = 1) -> None:
        """Make the next call of path (a command path or its menu path) answer with a trap."""
        self._fail_next.setdefault(path, []).append(TrapError(message, category))

    def injected_failure(self, command_path: str) -> TrapError | None:
        """Return (and consume, if one-shot) a trap injected for this command, if any."""
        menu_path = command_path.rsplit("/", 1)[0]
        for path in (command_path, menu_path):
            queued = self._fail_next.get(path)
            if queued:
                error = queued.pop(0)
                if not queued:
                    del self._fail_next[path]
                return error
        for path in (command_path, menu_path):
            if path in self.fail_on:
                return TrapError(self.fail_on[path], 1)
        return None

    def delay_for(self, command_path: str) -> float:
        """Return the injected delay in seconds before answering command_path."""
        menu_path = command_path.rsplit("/", 1)[0]
        return self.delay_s.get(command_path, self.delay_s.get(menu_path, 0.0))

    def reboot(self) -> None:
        """Simulate a reboot: uptime restarts, sessions and hosts vanish without hooks."""
        self.boot_time = time.monotonic()
        for path in ("/ip/hotspot/active", "/ip/hotspot/host", "/ip/hotspot/cookie", "/ppp/active"):
            self.menus[path].clear(run_hooks=False)
