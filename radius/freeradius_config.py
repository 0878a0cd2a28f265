"""Render a FreeRADIUS 3.2 configuration directory for hotspotd.

The rendered directory is the Debian stock tree (copied with its relative symlinks) plus
whole files written by this module, so rendering is idempotent and never needs to parse the
stock files it replaces:

- ``radiusd.conf``: private log/run dirs, ``proxy_requests = no``, ``reject_delay = 0``,
  ``ENV { TZ = "UTC" }`` (Expiration strings are read in UTC under any service environment),
  optional ``user``/``group``.
- ``clients.conf``: a static 127.0.0.1 client (health checks, tests) and one dynamic-client
  network per ``nas_networks`` entry, resolved by the ``hotspotd-clients`` virtual server from
  the ``nas`` table on the first packet of a router (no restart; a cached client lives
  ``client_lifetime_s``, so a changed secret or a removed router takes effect after that).
- ``sites-available/hotspotd`` + ``hotspotd-clients`` (the only enabled sites: the stock
  ``default`` and ``inner-tunnel`` are disabled; IPv4 listeners only).
- ``mods-available/hotspotd_sql`` (the ``sql`` instance, sqlite driver, busy_timeout 5000,
  ``PRAGMA synchronous=NORMAL``, ``read_groups = no``) with
  ``mods-config/sql/main/sqlite/hotspotd-queries.conf``: the stock queries with Simultaneous-Use
  fixed, no password stored in ``radpostauth``, and the user's and its groups' check (reply)
  rows read by one query each (user rows first; ``SQL-Group`` comparisons are not available).
- ``mods-available/hotspotd_counters``: total-time and validity-after-first-login sqlcounters
  with queries that work on SQLite integer timestamps.
- ``dictionary``: the check/control attributes the site uses (``Hotspot-Data-Quota``, ...).
- ``mods-enabled/eap`` is removed (it needs the snakeoil key, unreadable for ``freerad``).

For the Debian service render with ``out_dir=Path("/etc/freeradius/3.0")`` and
``user="freerad"``; out_dir may equal ``source_dir``: the stock ``radiusd.conf``,
``clients.conf`` and ``dictionary`` are then replaced, the sites-enabled/mods-enabled links
changed, and every other hotspotd file is added beside the stock ones (the stock
``queries.conf`` is read, never edited, so rendering again works). Written files are mode 0640,
the log/run directories 0750; when run as root with ``user`` set, the whole tree gets the user's
group and the log/run directories belong to the user. The directory holding the SQLite database
must be writable by that user: WAL mode creates ``-wal``/``-shm`` files next to it. A package
upgrade may offer to replace the stock files: render again afterwards.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import subprocess
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

SITE_NAME = "hotspotd"
CLIENTS_SITE_NAME = "hotspotd-clients"
QUERIES_FILE = "hotspotd-queries.conf"

_FILE_MODE = 0o640
_DIR_MODE = 0o750
# Characters that cannot break out of a double-quoted FreeRADIUS config string.
_SAFE_VALUE = re.compile(r"^[^\"\\$\n\r{}]*$")


class RadiusConfigError(Exception):
    """The configuration cannot be rendered (bad parameter or unexpected stock files)."""


@dataclass(frozen=True)
class RadiusConfigParams:
    """Everything that varies between a test instance and the system service."""

    db_path: Path
    auth_port: int
    acct_port: int
    local_secret: str
    log_dir: Path
    run_dir: Path
    listen_address: str = "127.0.0.1"
    nas_networks: tuple[str, ...] = ("0.0.0.0/0",)
    client_lifetime_s: int = 300
    # Log accepted logins in radpostauth (rejects are always logged). The insert is the
    # biggest cost of an Access-Request: without it FreeRADIUS answers ~1.6x more per second.
    log_accepts: bool = True
    # None or "" = keep the invoking user (tests, demo); "freerad" for the Debian service.
    user: str | None = None
    source_dir: Path = Path("/etc/freeradius/3.0")


def render_config(out_dir: Path, params: RadiusConfigParams) -> None:
    """Write a complete FreeRADIUS config dir for ``freeradius -f -d out_dir``."""
    _validate(params)
    source = params.source_dir
    if not (source / "radiusd.conf").is_file():
        raise RadiusConfigError(f"no FreeRADIUS config found in {source}")
    out_dir.mkdir(parents=True, exist_ok=True)
    if out_dir.resolve() != source.resolve():
        _copy_tree(source, out_dir)

    queries = _fixed_queries(
        (source / "mods-config/sql/main/sqlite/queries.conf").read_text(encoding="utf-8")
    )
    files = {
        "radiusd.conf": _radiusd_conf(out_dir, params),
        "clients.conf": _clients_conf(params),
        "dictionary": DICTIONARY,
        f"sites-available/{SITE_NAME}": _site(params),
        f"sites-available/{CLIENTS_SITE_NAME}": CLIENTS_SITE,
        "mods-available/hotspotd_sql": _sql_module(params),
        "mods-available/hotspotd_counters": COUNTERS_MODULE,
        f"mods-config/sql/main/sqlite/{QUERIES_FILE}": queries,
    }
    for name, text in files.items():
        _write(out_dir / name, text)

    sites_enabled = out_dir / "sites-enabled"
    for entry in sites_enabled.iterdir():
        if entry.is_symlink() or entry.is_file():
            entry.unlink()
    for site in (SITE_NAME, CLIENTS_SITE_NAME):
        (sites_enabled / site).symlink_to(f"../sites-available/{site}")

    mods_enabled = out_dir / "mods-enabled"
    for name in ("eap", "sql", "sqlcounter", "hotspotd_sql", "hotspotd_counters"):
        link = mods_enabled / name
        if link.is_symlink() or link.exists():
            link.unlink()
    for name in ("hotspotd_sql", "hotspotd_counters"):
        (mods_enabled / name).symlink_to(f"../mods-available/{name}")

    for path in (params.log_dir, params.run_dir):
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(_DIR_MODE)
    _set_ownership(out_dir, params)


def check_config(config_dir: Path, *, executable: str = "freeradius") -> None:
    """Run FreeRADIUS's own config check on a rendered dir; raise RadiusConfigError if it fails."""
    try:
        result = subprocess.run(
            [executable, "-XC", "-d", str(config_dir)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RadiusConfigError(f"cannot run {executable}: {exc}") from exc
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
        raise RadiusConfigError(f"FreeRADIUS rejects the config in {config_dir}:\n{tail}")


def _validate(params: RadiusConfigParams) -> None:
    for label, value in (
        ("db_path", str(params.db_path)),
        ("log_dir", str(params.log_dir)),
        ("run_dir", str(params.run_dir)),
        ("local_secret", params.local_secret),
    ):
        if not value or not _SAFE_VALUE.match(value) or not value.isprintable():
            raise RadiusConfigError(f"{label} contains characters FreeRADIUS cannot take")
    for label, port in (("auth_port", params.auth_port), ("acct_port", params.acct_port)):
        if not 0 < port < 65536:
            raise RadiusConfigError(f"{label} out of range: {port}")
    try:
        IPv4Address(params.listen_address)
        for network in params.nas_networks:
            IPv4Network(network)
    except ValueError as exc:
        raise RadiusConfigError(str(exc)) from exc
    if params.client_lifetime_s < 1:
        raise RadiusConfigError("client_lifetime_s must be positive")
    if params.user and not re.fullmatch(r"[a-z_][a-z0-9_-]*", params.user):
        raise RadiusConfigError(f"invalid user name: {params.user!r}")


def _copy_tree(source: Path, dest: Path) -> None:
    """Copy the stock tree over dest, keeping relative symlinks and replacing what exists."""
    for root, dirs, files in os.walk(source):
        rel = Path(root).relative_to(source)
        (dest / rel).mkdir(exist_ok=True)
        for name in dirs + files:
            src = Path(root) / name
            dst = dest / rel / name
            if src.is_symlink():
                if dst.is_symlink() or dst.is_file():
                    dst.unlink()
                dst.symlink_to(os.readlink(src))
            elif src.is_file():
                if dst.is_symlink():
                    dst.unlink()
                shutil.copy2(src, dst)


def _write(path: Path, text: str) -> None:
    if path.is_symlink():
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(_FILE_MODE)
    tmp.replace(path)


def _set_ownership(out_dir: Path, params: RadiusConfigParams) -> None:
    if not params.user or os.geteuid() != 0:
        return
    entry = pwd.getpwnam(params.user)
    gid = entry.pw_gid
    for root, dirs, files in os.walk(out_dir):
        os.chown(root, -1, gid)
        for name in dirs + files:
            os.chown(Path(root) / name, -1, gid, follow_symlinks=False)
    for path in (params.log_dir, params.run_dir):
        os.chown(path, entry.pw_uid, gid)


def _group_of(user: str) -> str:
    try:
        return grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name
    except KeyError:
        # Rendering for a machine where the user does not exist yet (packaging): Debian
        # creates a group named like the user.
        return user


def _fixed_queries(stock: str) -> str:
    """Return the stock sqlite queries with the fixes hotspotd needs."""
    replacements = [
        # simul_verify_query compares username with the group attribute (always empty), so
        # Simultaneous-Use never rejects anyone.
        (
            "WHERE username = '%{${group_attribute}}'",
            "WHERE username = '%{SQL-User-Name}'",
        ),
        # Never store the cleartext password (or the CHAP response) in radpostauth.
        ("'%{%{User-Password}:-%{Chap-Password}}'", "''"),
    ]
    # One query each for check and reply items, user rows first, instead of rlm_sql's four
    # (user check, user reply, group membership, then group check and reply per group):
    # every Access-Request pays for these, and the module runs with read_groups = no.
    for kind, user_table, group_table in (
        ("check", "authcheck_table", "groupcheck_table"),
        ("reply", "authreply_table", "groupreply_table"),
    ):
        stock_query = (
            f'authorize_{kind}_query = "\\\n'
            "\tSELECT id, username, attribute, value, op \\\n"
            f"\tFROM ${{{user_table}}} \\\n"
            "\tWHERE username = '%{SQL-User-Name}' \\\n"
            '\tORDER BY id"\n'
        )
        # No ORDER BY: planning the sort costs more than a query (prepared anew each time).
        # SQLite runs UNION ALL left to right, so user rows come first, and hotspotd never
        # writes the same attribute for a user and its plan anyway.
        merged_query = (
            f'authorize_{kind}_query = "\\\n'
            "\tSELECT id, username, attribute, value, op \\\n"
            f"\tFROM ${{{user_table}}} WHERE username = '%{{SQL-User-Name}}' \\\n"
            "\tUNION ALL \\\n"
            "\tSELECT g.id, m.username, g.attribute, g.value, g.op \\\n"
            f"\tFROM ${{{group_table}}} g JOIN ${{usergroup_table}} m \\\n"
            "\tON m.groupname = g.groupname \\\n"
            "\tWHERE m.username = '%{SQL-User-Name}'\"\n"
        )
        replacements.append((stock_query, merged_query))
    text = stock
    for old, new in replacements:
        if text.count(old) != 1:
            raise RadiusConfigError(f"stock queries.conf changed: expected one {old!r}")
        text = text.replace(old, new)
    header = "# Rendered by hotspotd from the stock sqlite queries.conf; do not edit.\n"
    return header + text


def _radiusd_conf(out_dir: Path, params: RadiusConfigParams) -> str:
    security_user = ""
    if params.user:
        security_user = f"\tuser = {params.user}\n\tgroup = {_group_of(params.user)}\n"
    return f"""# Rendered by hotspotd; do not edit.
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = ${{exec_prefix}}/sbin
logdir = "{params.log_dir}"
raddbdir = "{out_dir.resolve()}"
radacctdir = ${{logdir}}/radacct
name = freeradius
confdir = ${{raddbdir}}
modconfdir = ${{confdir}}/mods-config
certdir = ${{confdir}}/certs
cadir = ${{confdir}}/certs
run_dir = "{params.run_dir}"
db_dir = ${{raddbdir}}
libdir = /usr/lib/freeradius
pidfile = ${{run_dir}}/${{name}}.pid
max_request_time = 30
cleanup_delay = 5
max_requests = 16384
hostname_lookups = no

log {{
\tdestination = files
\tcolourise = no
\tfile = ${{logdir}}/radius.log
\tsyslog_facility = daemon
\tstripped_names = no
\tauth = no
\tauth_badpass = no
\tauth_goodpass = no
\tmsg_denied = "You are already logged in - access denied"
}}

# Expiration dates carry no zone and are parsed in the process's local zone: pin it to UTC
# (what radius.users writes) whatever the service's environment is.
ENV {{
\tTZ = "UTC"
}}

checkrad = ${{sbindir}}/checkrad

security {{
{security_user}\tallow_core_dumps = no
\tmax_attributes = 200
\t# A reject delay would hold a thread per wrong password; the routers rate-limit logins.
\treject_delay = 0
\tstatus_server = yes
}}

# No proxying: with it on FreeRADIUS binds a random UDP port on 0.0.0.0.
proxy_requests = no
$INCLUDE clients.conf

# 16, not the stock 32: on a 2-core box more threads only contend for SQLite's locks
# (measured ~15% more Access-Requests/s and less CPU per request with 16).
thread pool {{
\tstart_servers = 5
\tmax_servers = 16
\tmin_spare_servers = 3
\tmax_spare_servers = 10
\tmax_requests_per_server = 0
\tauto_limit_acct = no
}}

modules {{
\t$INCLUDE mods-enabled/
}}

instantiate {{
}}

policy {{
\t$INCLUDE policy.d/
}}

$INCLUDE sites-enabled/
"""


def _clients_conf(params: RadiusConfigParams) -> str:
    parts = [
        "# Rendered by hotspotd; do not edit. Routers come from the nas table.\n",
        f"""client localhost {{
\tipaddr = 127.0.0.1
\tproto = udp
\tsecret = "{params.local_secret}"
\tshortname = localhost
\tnas_type = other
\tlimit {{
\t\tmax_connections = 16
\t\tlifetime = 0
\t\tidle_timeout = 30
\t}}
}}
""",
    ]
    for index, network in enumerate(params.nas_networks):
        parts.append(
            f"""
client hotspotd_nas_{index} {{
\tipaddr = {IPv4Network(network)}
\tdynamic_clients = {CLIENTS_SITE_NAME}
\tlifetime = {params.client_lifetime_s}
}}
"""
        )
    return "".join(parts)


def _listen(kind: str, address: str, port: int) -> str:
    return f"""\tlisten {{
\t\ttype = {kind}
\t\tipaddr = {address}
\t\tport = {port}
\t\tlimit {{
\t\t\tmax_connections = 16
\t\t\tlifetime = 0
\t\t\tidle_timeout = 30
\t\t}}
\t}}
"""


# RouterOS 7 (require-message-auth, the default since the BlastRADIUS fix) ignores an
# Access-Accept/Reject without Message-Authenticator; FreeRADIUS 3.2.1 only signs a reply that
# carries the attribute, filling in the real value when it encodes the packet.
_SIGN_REPLY = "&Message-Authenticator := 0x00000000000000000000000000000000"

# SQL run by the sites through the %{sql:...} xlat (expanded values are escaped by rlm_sql).
# CAST to TEXT: rlm_sql_sqlite reads INTEGER columns as 32-bit ints (5 GiB became 1 GiB).
# %{User-Name}, not %{SQL-User-Name}: the xlat expands its query before setting the latter.
_DATA_REMAINING_SQL = (
    "SELECT CAST(MAX(%{control:Hotspot-Data-Quota} - "
    "IFNULL(SUM(acctinputoctets + acctoutputoctets), 0), 0) AS TEXT) "
    "FROM radacct WHERE username = '%{User-Name}'"
)
_REMAINING = "%{control:Hotspot-Data-Remaining}"
# The newest row wins if an address was registered twice.
_NAS_SQL = (
    "SELECT {column} FROM nas WHERE nasname = '%{{Packet-Src-IP-Address}}' ORDER BY id DESC LIMIT 1"
)


def _site(params: RadiusConfigParams) -> str:
    listeners = _listen("auth", params.listen_address, params.auth_port) + _listen(
        "acct", params.listen_address, params.acct_port
    )
    accept_log = ""
    if params.log_accepts:
        accept_log = (
            "\t\t# Logging the attempt must never turn an Accept into a Reject (SQLITE_BUSY).\n"
            "\t\tsql {\n\t\t\tfail = 1\n\t\t}\n"
        )
    return f"""# Rendered by hotspotd; do not edit.
server {SITE_NAME} {{
{listeners}
\tauthorize {{
\t\tfilter_username
\t\tpreprocess
\t\tchap
\t\t# Not "-sql": a database failure must reject, never accept.
\t\tsql
\t\t# Rejects after Expiration and caps Session-Timeout to the time left.
\t\texpiration
\t\t# Max-All-Session: total online time.
\t\thotspotd_time_quota
\t\t# Expire-After: validity counted from the first login (first radacct start).
\t\thotspotd_first_login_validity
\t\t# Hotspot-Data-Quota: total octets (in + out); the remainder is sent to the router,
\t\t# split into Mikrotik-Total-Limit + -Gigawords because the attribute is 32-bit.
\t\t# A quota on the user wins over the plan's (group check items can only be ":=").
\t\tif (!&control:Hotspot-Data-Quota && &control:Hotspot-Plan-Data-Quota) {{
\t\t\tupdate control {{
\t\t\t\t&Hotspot-Data-Quota := &control:Hotspot-Plan-Data-Quota
\t\t\t}}
\t\t}}
\t\tif (&control:Hotspot-Data-Quota) {{
\t\t\tupdate control {{
\t\t\t\t&Hotspot-Data-Remaining := "%{{sql:{_DATA_REMAINING_SQL}}}"
\t\t\t}}
\t\t\tif (&control:Hotspot-Data-Remaining == 0) {{
\t\t\t\tupdate reply {{
\t\t\t\t\t&Reply-Message := "Data quota used up"
\t\t\t\t}}
\t\t\t\treject
\t\t\t}}
\t\t\tupdate reply {{
\t\t\t\t&Mikrotik-Total-Limit := "%{{expr:{_REMAINING} & 4294967295}}"
\t\t\t\t&Mikrotik-Total-Limit-Gigawords := "%{{expr:{_REMAINING} / 4294967296}}"
\t\t\t}}
\t\t}}
\t\tpap
\t}}

\tauthenticate {{
\t\tAuth-Type PAP {{
\t\t\tpap
\t\t}}
\t\tAuth-Type CHAP {{
\t\t\tchap
\t\t}}
\t}}

\tpreacct {{
\t\tpreprocess
\t\tacct_unique
\t}}

\taccounting {{
\t\t# Not "-sql": if the row cannot be written the router gets no response and resends.
\t\tsql
\t\tattr_filter.accounting_response
\t}}

\t# Simultaneous-Use counts open radacct rows (nas type "other": radacct is trusted).
\tsession {{
\t\tsql
\t}}

\tpost-auth {{
{accept_log}\t\tupdate reply {{
\t\t\t{_SIGN_REPLY}
\t\t}}
\t\tok
\t\tPost-Auth-Type REJECT {{
\t\t\tupdate reply {{
\t\t\t\t{_SIGN_REPLY}
\t\t\t}}
\t\t\tsql {{
\t\t\t\tfail = 1
\t\t\t}}
\t\t\tattr_filter.access_reject
\t\t}}
\t}}
}}
"""


CLIENTS_SITE = f"""# Rendered by hotspotd; do not edit.
# Looks the source address of an unknown packet up in the nas table (dynamic clients).
server {CLIENTS_SITE_NAME} {{
\tauthorize {{
\t\tupdate control {{
\t\t\t&Tmp-String-0 := "%{{sql:{_NAS_SQL.format(column="secret")}}}"
\t\t}}
\t\tif (!&control:Tmp-String-0 || &control:Tmp-String-0 == "") {{
\t\t\treject
\t\t}}
\t\tupdate control {{
\t\t\t&FreeRADIUS-Client-IP-Address := "%{{Packet-Src-IP-Address}}"
\t\t\t&FreeRADIUS-Client-Require-MA := no
\t\t\t&FreeRADIUS-Client-Secret := "%{{control:Tmp-String-0}}"
\t\t\t&FreeRADIUS-Client-Shortname := "%{{sql:{_NAS_SQL.format(column="shortname")}}}"
\t\t\t&FreeRADIUS-Client-NAS-Type := "other"
\t\t\t&FreeRADIUS-Client-Virtual-Server := "{SITE_NAME}"
\t\t}}
\t\tok
\t}}
}}
"""


def _sql_module(params: RadiusConfigParams) -> str:
    return f"""# Rendered by hotspotd; do not edit.
sql {{
\tdialect = "sqlite"
\tdriver = "rlm_sql_sqlite"
\tsqlite {{
\t\tfilename = "{params.db_path}"
\t\t# The daemon writes the same file: the stock 200 ms loses logins under load.
\t\tbusy_timeout = 5000
\t}}
\t# Halves the fsyncs of the radacct/radpostauth inserts (WAL is set by the daemon).
\topen_query = "PRAGMA synchronous=NORMAL"
\tradius_db = "radius"
\tacct_table1 = "radacct"
\tacct_table2 = "radacct"
\tpostauth_table = "radpostauth"
\tauthcheck_table = "radcheck"
\tgroupcheck_table = "radgroupcheck"
\tauthreply_table = "radreply"
\tgroupreply_table = "radgroupreply"
\tusergroup_table = "radusergroup"
\tdelete_stale_sessions = yes
\t# Group rows come with the user's rows (see the rendered queries): no group queries.
\tread_groups = no
\tpool {{
\t\tstart = ${{thread[pool].start_servers}}
\t\tmin = ${{thread[pool].min_spare_servers}}
\t\tmax = ${{thread[pool].max_servers}}
\t\tspare = ${{thread[pool].max_spare_servers}}
\t\tuses = 0
\t\tretry_delay = 30
\t\tlifetime = 0
\t\tidle_timeout = 60
\t}}
\t# Routers are dynamic clients (sites-available/{CLIENTS_SITE_NAME}), not read at start.
\tread_clients = no
\tclient_table = "nas"
\tgroup_attribute = "SQL-Group"
\t$INCLUDE ${{modconfdir}}/${{.:name}}/main/${{dialect}}/{QUERIES_FILE}
}}
"""


COUNTERS_MODULE = """# Rendered by hotspotd; do not edit.
# Counters over radacct; the stock sqlite counter queries do not work on SQLite (integer
# timestamps passed to strftime, NOW(), GREATEST()).

sqlcounter hotspotd_time_quota {
\tsql_module_instance = sql
\tdialect = ${modules.sql.dialect}
\tcounter_name = Max-All-Session-Time
\tcheck_name = Max-All-Session
\treply_name = Session-Timeout
\tkey = User-Name
\treset = never
\tquery = "SELECT IFNULL(SUM(acctsessiontime), 0) FROM radacct WHERE username = '%{${key}}'"
}

sqlcounter hotspotd_first_login_validity {
\tsql_module_instance = sql
\tdialect = ${modules.sql.dialect}
\tcounter_name = Expire-After-Initial-Login
\tcheck_name = Expire-After
\treply_name = Session-Timeout
\tkey = User-Name
\treset = never
\t# %l is the request time (epoch seconds); no sessions yet gives NULL, i.e. counter 0.
\tquery = "SELECT MAX(%l - MIN(acctstarttime), 0) FROM radacct WHERE username = '%{${key}}'"
}
"""


DICTIONARY = """# Rendered by hotspotd; do not edit.
# Local check/control attributes (3000-3999 are never sent on the wire).
# Max-All-Session / Expire-After are created by the sqlcounter modules; declared here so
# that radcheck rows naming them always parse.
ATTRIBUTE\tMax-All-Session\t\t\t3000\tinteger64
ATTRIBUTE\tExpire-After\t\t\t3001\tinteger64
ATTRIBUTE\tHotspot-Data-Quota\t\t3002\tinteger64
ATTRIBUTE\tHotspot-Data-Remaining\t\t3003\tinteger64
ATTRIBUTE\tHotspot-Plan-Data-Quota\t\t3004\tinteger64
"""
