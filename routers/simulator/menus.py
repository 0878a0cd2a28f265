"""Menu definitions of the simulated RouterOS: paths, properties, defaults, initial rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

ITEM_COMMANDS = frozenset({"print", "getall", "get", "add", "set", "remove", "enable", "disable"})
READ_REMOVE_COMMANDS = frozenset({"print", "getall", "get", "remove"})
SETTINGS_COMMANDS = frozenset({"print", "getall", "get", "set"})
PRINT_ONLY_COMMANDS = frozenset({"print", "getall", "get"})

# Properties that are booleans wherever they appear (RouterOS prints true/false, takes yes/no too).
COMMON_BOOLEANS = frozenset(
    {
        "disabled",
        "dynamic",
        "running",
        "invalid",
        "default",
        "radius",
        "blocked",
        "authorized",
        "bypassed",
        "use-radius",
        "radius-accounting",
        "split-user-domain",
        "install-hotspot-queue",
        "https-redirect",
        "transparent-proxy",
        "add-mac-cookie",
        "accept",
        "require-message-auth",
        "accounting-backup",
        "slave",
    }
)


@dataclass(frozen=True)
class MenuSpec:
    """Static description of one RouterOS menu."""

    path: str
    # Property that must be unique (name-keyed menus); None for menus without a key.
    key: str | None = None
    # Noun used in the duplicate-key trap: "failure: already have <noun> with this name".
    noun: str = "item"
    # Settings menus hold exactly one item, printed without .id and set without selection.
    single: bool = False
    commands: frozenset[str] = ITEM_COMMANDS
    # Properties the API may write (add/set); None accepts any.
    fields: frozenset[str] | None = None
    booleans: frozenset[str] = COMMON_BOOLEANS
    enums: Mapping[str, frozenset[str]] = field(default_factory=dict)
    integers: frozenset[str] = frozenset()
    required: tuple[str, ...] = ()
    # Filled in on add when missing (RouterOS prints every property).
    defaults: Mapping[str, str] = field(default_factory=dict)
    # Items present at boot (or the single settings item).
    initial: tuple[Mapping[str, str], ...] = ()
    # Items carrying default=true cannot be removed.
    protect_default: bool = False


def _f(*names: str) -> frozenset[str]:
    return frozenset(names)


_HOTSPOT_PROFILE_DEFAULTS = {
    "hotspot-address": "",
    "dns-name": "",
    "html-directory": "hotspot",
    "html-directory-override": "",
    "http-proxy": "0.0.0.0:0",
    "smtp-server": "0.0.0.0",
    "login-by": "http-chap,cookie",
    "http-cookie-lifetime": "3d",
    "split-user-domain": "false",
    "use-radius": "false",
    "radius-accounting": "true",
    "radius-interim-update": "received",
    "radius-default-domain": "",
    "radius-location-id": "",
    "radius-location-name": "",
    "radius-mac-format": "XX:XX:XX:XX:XX:XX",
    "nas-port-type": "wireless-802.11",
    "rate-limit": "",
    "mac-auth-mode": "mac-as-username",
    "mac-auth-password": "",
    "trial-uptime-limit": "30m",
    "trial-uptime-reset": "1d",
    "trial-user-profile": "default",
    "install-hotspot-queue": "false",
    "https-redirect": "true",
    "ssl-certificate": "none",
    "default": "false",
}

_USER_PROFILE_DEFAULTS = {
    "address-pool": "none",
    "idle-timeout": "none",
    "keepalive-timeout": "2m",
    "status-autorefresh": "1m",
    "shared-users": "1",
    "rate-limit": "",
    "session-timeout": "0s",
    "mac-cookie-timeout": "3d",
    "address-list": "",
    "incoming-filter": "",
    "outgoing-filter": "",
    "on-login": "",
    "on-logout": "",
    "transparent-proxy": "false",
    "add-mac-cookie": "true",
    "open-status-page": "always",
    "default": "false",
}


def _interface(n: int, name: str, kind: str, running: str = "true") -> dict[str, str]:
    return {
        "name": name,
        "default-name": name if kind != "bridge" else "",
        "type": kind,
        "mtu": "1500",
        "actual-mtu": "1500",
        "mac-address": f"48:8F:5A:00:00:{n:02X}",
        "running": running,
        "disabled": "false",
        "slave": "true" if kind != "bridge" and name != "ether1" else "false",
        "comment": "",
    }


SPECS: tuple[MenuSpec, ...] = (
    MenuSpec(
        path="/system/resource",
        single=True,
        commands=PRINT_ONLY_COMMANDS,
        fields=frozenset(),
        initial=({"platform": "MikroTik"},),
    ),
    MenuSpec(
        path="/system/identity",
        single=True,
        commands=SETTINGS_COMMANDS,
        fields=_f("name"),
        initial=({"name": "MikroTik"},),
    ),
    MenuSpec(
        path="/interface",
        key="name",
        noun="interface",
        commands=frozenset({"print", "getall", "get", "set", "enable", "disable"}),
        fields=_f("name", "mtu", "comment", "disabled"),
        integers=_f("mtu"),
        initial=(
            _interface(1, "ether1", "ether"),
            _interface(2, "ether2", "ether"),
            _interface(3, "ether3", "ether", running="false"),
            _interface(4, "ether4", "ether", running="false"),
            _interface(5, "ether5", "ether", running="false"),
            _interface(6, "wlan1", "wlan"),
            _interface(7, "wlan2", "wlan"),
            _interface(8, "bridge", "bridge"),
        ),
    ),
    MenuSpec(
        path="/ip/address",
        noun="address",
        fields=_f("address", "network", "interface", "comment", "disabled"),
        required=("address", "interface"),
        defaults={"disabled": "false", "dynamic": "false", "invalid": "false", "comment": ""},
        initial=(
            {
                "address": "10.5.50.1/24",
                "network": "10.5.50.0",
                "interface": "bridge",
                "actual-interface": "bridge",
                "disabled": "false",
                "dynamic": "false",
                "invalid": "false",
                "comment": "hotspot network",
            },
        ),
    ),
    MenuSpec(
        path="/ip/pool",
        key="name",
        noun="pool",
        fields=_f("name", "ranges", "next-pool", "comment"),
        required=("name",),
        defaults={"ranges": "", "next-pool": "none", "comment": ""},
        initial=({"name": "hs-pool-1", "ranges": "10.5.50.2-10.5.50.254", "next-pool": "none"},),
    ),
    MenuSpec(
        path="/ip/hotspot",
        key="name",
        noun="server",
        fields=_f(
            "name",
            "interface",
            "address-pool",
            "profile",
            "idle-timeout",
            "keepalive-timeout",
            "login-timeout",
            "addresses-per-mac",
            "disabled",
        ),
        required=("interface",),
        defaults={
            "address-pool": "none",
            "profile": "default",
            "idle-timeout": "5m",
            "keepalive-timeout": "none",
            "login-timeout": "none",
            "addresses-per-mac": "2",
            "disabled": "false",
            "invalid": "false",
            "HTTPS": "false",
        },
        initial=(
            {
                "name": "hotspot1",
                "interface": "bridge",
                "address-pool": "hs-pool-1",
                "profile": "hsprof1",
                "idle-timeout": "5m",
                "keepalive-timeout": "none",
                "login-timeout": "none",
                "addresses-per-mac": "2",
                "disabled": "false",
                "invalid": "false",
                "HTTPS": "false",
            },
        ),
    ),
    MenuSpec(
        path="/ip/hotspot/profile",
        key="name",
        noun="profile",
        fields=frozenset(_HOTSPOT_PROFILE_DEFAULTS) - {"default"} | {"name"},
        enums={
            "radius-mac-format": frozenset(
                {
                    "XX:XX:XX:XX:XX:XX",
                    "XXXXXXXXXXXX",
                    "XX-XX-XX-XX-XX-XX",
                    "XXXX:XXXX:XXXX",
                    "XXXXXX:XXXXXX",
                    "XXXXXX-XXXXXX",
                    "XX XX XX XX XX XX",
                    "xx:xx:xx:xx:xx:xx",
                    "xxxxxxxxxxxx",
                    "xx-xx-xx-xx-xx-xx",
                    "xxxx:xxxx:xxxx",
                    "xxxxxx:xxxxxx",
                    "xxxxxx-xxxxxx",
                    "xx xx xx xx xx xx",
                }
            ),
        },
        required=("name",),
        defaults=_HOTSPOT_PROFILE_DEFAULTS,
        protect_default=True,
        initial=(
            {"name": "default", **_HOTSPOT_PROFILE_DEFAULTS, "default": "true"},
            {
                "name": "hsprof1",
                **_HOTSPOT_PROFILE_DEFAULTS,
                "hotspot-address": "10.5.50.1",
                "dns-name": "",
            },
        ),
    ),
    MenuSpec(
        path="/ip/hotspot/user",
        key="name",
        noun="user",
        fields=_f(
            "name",
            "password",
            "profile",
            "server",
            "address",
            "mac-address",
            "email",
            "limit-uptime",
            "limit-bytes-in",
            "limit-bytes-out",
            "limit-bytes-total",
            "routes",
            "comment",
            "disabled",
        ),
        integers=_f("limit-bytes-in", "limit-bytes-out", "limit-bytes-total"),
        required=("name",),
        defaults={
            "password": "",
            "profile": "default",
            "server": "all",
            "comment": "",
            "uptime": "0s",
            "bytes-in": "0",
            "bytes-out": "0",
            "packets-in": "0",
            "packets-out": "0",
            "dynamic": "false",
            "disabled": "false",
        },
    ),
    MenuSpec(
        path="/ip/hotspot/user/profile",
        key="name",
        noun="profile",
        fields=frozenset(_USER_PROFILE_DEFAULTS) - {"default"} | {"name", "advertise"},
        integers=_f("shared-users"),
        required=("name",),
        defaults=_USER_PROFILE_DEFAULTS,
        protect_default=True,
        initial=({"name": "default", **_USER_PROFILE_DEFAULTS, "default": "true"},),
    ),
    MenuSpec(
        path="/ip/hotspot/active",
        noun="session",
        commands=READ_REMOVE_COMMANDS,
        fields=frozenset(),
        defaults={
            "server": "hotspot1",
            "domain": "",
            "login-by": "http-chap",
            "uptime": "0s",
            "idle-time": "0s",
            "keepalive-timeout": "2m",
            "bytes-in": "0",
            "bytes-out": "0",
            "packets-in": "0",
            "packets-out": "0",
            "radius": "false",
            "blocked": "false",
        },
    ),
    MenuSpec(
        path="/ip/hotspot/host",
        noun="host",
        commands=READ_REMOVE_COMMANDS,
        fields=frozenset(),
        defaults={
            "server": "hotspot1",
            "bridge-port": "wlan1",
            "uptime": "0s",
            "idle-time": "0s",
            "keepalive-timeout": "2m",
            "host-dead-time": "0s",
            "bytes-in": "0",
            "bytes-out": "0",
            "packets-in": "0",
            "packets-out": "0",
            "found-by": "",
            "authorized": "false",
            "bypassed": "false",
            "dynamic": "true",
        },
    ),
    MenuSpec(
        path="/ip/hotspot/cookie",
        noun="cookie",
        commands=READ_REMOVE_COMMANDS,
        fields=frozenset(),
    ),
    MenuSpec(
        path="/ip/hotspot/walled-garden",
        noun="entry",
        fields=_f(
            "dst-host",
            "dst-port",
            "path",
            "method",
            "action",
            "server",
            "src-address",
            "comment",
            "disabled",
        ),
        enums={"action": frozenset({"allow", "deny"})},
        defaults={"action": "allow", "comment": "", "disabled": "false", "dynamic": "false"},
    ),
    MenuSpec(
        path="/ip/hotspot/walled-garden/ip",
        noun="entry",
        fields=_f(
            "action",
            "dst-address",
            "dst-address-list",
            "dst-host",
            "dst-port",
            "protocol",
            "server",
            "src-address",
            "src-address-list",
            "comment",
            "disabled",
        ),
        enums={"action": frozenset({"accept", "drop", "reject"})},
        defaults={
            "action": "accept",
            "comment": "",
            "disabled": "false",
            "dynamic": "false",
            "invalid": "false",
        },
    ),
    MenuSpec(
        path="/ip/hotspot/ip-binding",
        noun="binding",
        fields=_f("address", "to-address", "mac-address", "server", "type", "comment", "disabled"),
        enums={"type": frozenset({"regular", "bypassed", "blocked"})},
        defaults={"server": "all", "type": "regular", "comment": "", "disabled": "false"},
    ),
    MenuSpec(
        path="/radius",
        noun="server",
        fields=_f(
            "service",
            "address",
            "secret",
            "authentication-port",
            "accounting-port",
            "timeout",
            "called-id",
            "domain",
            "src-address",
            "realm",
            "accounting-backup",
            "protocol",
            "certificate",
            "require-message-auth",
            "comment",
            "disabled",
        ),
        integers=_f("authentication-port", "accounting-port"),
        required=("address",),
        defaults={
            "service": "",
            "secret": "",
            "authentication-port": "1812",
            "accounting-port": "1813",
            "timeout": "300ms",
            "called-id": "",
            "domain": "",
            "src-address": "0.0.0.0",
            "realm": "",
            "accounting-backup": "false",
            "protocol": "udp",
            "certificate": "none",
            "require-message-auth": "true",
            "comment": "",
            "disabled": "false",
        },
    ),
    MenuSpec(
        path="/radius/incoming",
        single=True,
        commands=SETTINGS_COMMANDS,
        fields=_f("accept", "port", "vrf"),
        integers=_f("port"),
        initial=({"accept": "false", "port": "1700", "vrf": "main"},),
    ),
    MenuSpec(
        path="/ppp/secret",
        key="name",
        noun="secret",
        fields=_f(
            "name",
            "password",
            "service",
            "profile",
            "caller-id",
            "local-address",
            "remote-address",
            "routes",
            "limit-bytes-in",
            "limit-bytes-out",
            "comment",
            "disabled",
        ),
        required=("name",),
        defaults={
            "password": "",
            "service": "any",
            "profile": "default",
            "caller-id": "",
            "comment": "",
            "disabled": "false",
        },
    ),
    MenuSpec(
        path="/ppp/profile",
        key="name",
        noun="profile",
        fields=_f(
            "name",
            "local-address",
            "remote-address",
            "rate-limit",
            "only-one",
            "session-timeout",
            "idle-timeout",
            "address-list",
            "comment",
        ),
        required=("name",),
        defaults={"only-one": "default", "comment": "", "default": "false"},
        protect_default=True,
        initial=(
            {"name": "default", "only-one": "default", "default": "true"},
            {"name": "default-encryption", "only-one": "default", "default": "true"},
        ),
    ),
    MenuSpec(
        path="/ppp/active",
        noun="session",
        commands=READ_REMOVE_COMMANDS,
        fields=frozenset(),
        defaults={"service": "pppoe", "uptime": "0s", "encoding": "", "radius": "false"},
    ),
)
