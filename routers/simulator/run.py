"""Run simulated MikroTik routers: RouterOS API, hotspot login servlet, RADIUS incoming."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import aiohttp

from routers.simulator.api_server import ApiServer, start_api_server
from routers.simulator.clients import SimulatedClient
from routers.simulator.hotspot import HotspotServer
from routers.simulator.incoming import IncomingListener
from routers.simulator.model import SimulatedRouter
from routers.simulator.nas_client import NasClient
from routers.simulator.sessions import SessionManager

if TYPE_CHECKING:
    from pyrad.dictionary import Dictionary

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RouterConfig:
    """One simulated router. Port 0 picks a free port (see RunningRouter for the actual ones)."""

    identity: str = "MikroTik"
    # API, hotspot and RADIUS incoming listen here; it is also the NAS-IP-Address and the source
    # address of RADIUS requests (FreeRADIUS tells routers apart by it: use 127.0.0.N per router).
    address: str = "127.0.0.1"
    api_port: int = 0
    hotspot_port: int = 0
    username: str = "admin"
    password: str = ""
    version: str = "7.18.2 (stable)"
    # When set, the router boots with a /radius entry for the hotspot and use-radius=yes.
    radius_server: str | None = None
    radius_auth_port: int = 1812
    radius_acct_port: int = 1813
    radius_secret: str = ""
    radius_timeout: str = "300ms"
    # RouterOS 7 default: Access-Accept/Reject without Message-Authenticator are ignored.
    radius_require_message_auth: bool = True
    # When set, /radius/incoming accept=yes port=<this> (0: any free port).
    incoming_port: int | None = None
    # External captive portal the login page redirects to (None: a built-in login form).
    portal_url: str | None = None
    # Base URL clients use for the hotspot, if not http://address:hotspot_port.
    public_url: str | None = None
    # Hosts (devices with an address, not logged in) present at boot.
    initial_hosts: int = 0
    # Demo aid: requests naming no client belong to the one whose login page was served last.
    assume_last_client: bool = False


@dataclass(frozen=True)
class SimulatorConfig:
    """A set of simulated routers."""

    routers: tuple[RouterConfig, ...] = field(default_factory=lambda: (RouterConfig(),))


class RunningRouter:
    """A started simulated router: its model, API server, hotspot and incoming listener."""

    def __init__(
        self,
        config: RouterConfig,
        router: SimulatedRouter,
        sessions: SessionManager,
        api: ApiServer,
        hotspot: HotspotServer,
        incoming: IncomingListener,
    ) -> None:
        self.config = config
        self.router = router
        self.sessions = sessions
        self.api = api
        self.hotspot = hotspot
        self.incoming = incoming
        self.clients: list[SimulatedClient] = []
        self._http: aiohttp.ClientSession | None = None
        self._next_client = 0

    @property
    def address(self) -> str:
        """Return the router's address (API, hotspot, NAS IP)."""
        return self.config.address

    @property
    def api_port(self) -> int:
        """Return the RouterOS API port."""
        return self.api.port

    @property
    def hotspot_url(self) -> str:
        """Return the hotspot base URL (`link-login-only` is this + "/login")."""
        return self.hotspot.url

    @property
    def incoming_port(self) -> int | None:
        """Return the UDP port for Disconnect/CoA, or None when not accepting."""
        return self.incoming.port

    def _next_identity(self) -> tuple[str, str]:
        n = self._next_client
        self._next_client += 1
        mac = ":".join(f"{byte:02X}" for byte in (0x02, 0x00, *n.to_bytes(4, "big")))
        ip = str(ipaddress.IPv4Address("10.5.50.2") + (n // 253) * 256 + n % 253)
        return mac, ip

    def arrive(self, mac: str | None = None, ip: str | None = None) -> SimulatedClient:
        """Make a device appear on the hotspot (in /ip/hotspot/host) and return it."""
        if mac is None or ip is None:
            auto_mac, auto_ip = self._next_identity()
            mac = mac or auto_mac
            ip = ip or auto_ip
        if self._http is None:
            self._http = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        client = SimulatedClient(self.sessions, self._http, self.hotspot_url, mac=mac, ip=ip)
        client.arrive()
        self.clients.append(client)
        return client

    async def reboot(self) -> None:
        """Reboot: API connections drop, sessions vanish without Stop, Accounting-On follows."""
        self.api.drop_connections()
        await self.sessions.reboot()
        self.clients.clear()

    async def close(self) -> None:
        """Stop everything (sessions end without Stop, as on power loss)."""
        for closer in (
            self.incoming.close,
            self.hotspot.close,
            self.api.close,
            self.sessions.close,
        ):
            try:
                await closer()
            except Exception:
                logger.exception("router %s: error while closing", self.config.identity)
        if self._http is not None:
            await self._http.close()
            self._http = None


class RunningSimulator:
    """All started routers; `async with` or `await close()`."""

    def __init__(self, routers: list[RunningRouter]) -> None:
        self.routers = routers

    def __getitem__(self, index: int) -> RunningRouter:
        return self.routers[index]

    def __len__(self) -> int:
        return len(self.routers)

    async def close(self) -> None:
        """Stop every router."""
        for router in reversed(self.routers):
            await router.close()

    async def __aenter__(self) -> RunningSimulator:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def configure_router(router: SimulatedRouter, config: RouterConfig) -> None:
    """Give a fresh router the boot-time configuration of `config` (RADIUS, incoming)."""
    if config.radius_server:
        router.menu("/radius").add(
            {
                "service": "hotspot",
                "address": config.radius_server,
                "secret": config.radius_secret,
                "authentication-port": str(config.radius_auth_port),
                "accounting-port": str(config.radius_acct_port),
                "timeout": config.radius_timeout,
                "require-message-auth": "yes" if config.radius_require_message_auth else "no",
            }
        )
        profiles = router.menu("/ip/hotspot/profile")
        for server in router.menu("/ip/hotspot").items():
            for profile in profiles.find(name=server.get("profile", "default")):
                profiles.set(profile[".id"], {"use-radius": "yes"})
    if config.incoming_port is not None:
        router.menu("/radius/incoming").set(
            "", {"accept": "yes", "port": str(config.incoming_port)}
        )


async def start_router(
    config: RouterConfig, *, dictionary: Dictionary | None = None
) -> RunningRouter:
    """Start one simulated router."""
    if dictionary is None:
        from radius.dictionary import load_dictionary

        dictionary = load_dictionary()
    router = SimulatedRouter(
        identity=config.identity,
        version=config.version,
        username=config.username,
        password=config.password,
    )
    configure_router(router, config)
    sessions = SessionManager(
        router, NasClient(router, nas_ip=config.address, dictionary=dictionary)
    )
    hotspot = HotspotServer(
        sessions,
        host=config.address,
        port=config.hotspot_port,
        portal_url=config.portal_url,
        public_url=config.public_url,
        assume_last_client=config.assume_last_client,
    )
    incoming = IncomingListener(sessions, address=config.address, dictionary=dictionary)
    api: ApiServer | None = None
    started: list[object] = []
    try:
        await sessions.start()
        started.append(sessions)
        await hotspot.start()
        started.append(hotspot)
        await incoming.start()
        started.append(incoming)
        api = await start_api_server(router, host=config.address, port=config.api_port)
    except BaseException:
        for part in reversed(started):
            await part.close()  # type: ignore[attr-defined]
        raise
    running = RunningRouter(config, router, sessions, api, hotspot, incoming)
    for _ in range(config.initial_hosts):
        running.arrive()
    logger.info(
        "simulated router %s: API %s:%d, hotspot %s, RADIUS incoming %s",
        config.identity,
        config.address,
        running.api_port,
        running.hotspot_url,
        running.incoming_port,
    )
    return running


async def start_simulator(
    config: SimulatorConfig, *, dictionary: Dictionary | None = None
) -> RunningSimulator:
    """Start every router of `config`; on failure the ones already started are stopped."""
    routers: list[RunningRouter] = []
    try:
        for router_config in config.routers:
            routers.append(await start_router(router_config, dictionary=dictionary))
    except BaseException:
        await RunningSimulator(routers).close()
        raise
    return RunningSimulator(routers)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of `hotspotd simulate-router`."""
    parser = argparse.ArgumentParser(
        prog="hotspotd simulate-router",
        description="Run simulated MikroTik routers (RouterOS API, hotspot, RADIUS incoming).",
    )
    parser.add_argument("--identity", default="sim-router", help="router identity (NAS-Identifier)")
    parser.add_argument("--address", default="127.0.0.1", help="listen address and NAS IP")
    parser.add_argument("--api-port", type=int, default=8728, help="RouterOS API port (0: any)")
    parser.add_argument("--hotspot-port", type=int, default=8080, help="hotspot HTTP port (0: any)")
    parser.add_argument("--username", default="admin", help="API user name")
    parser.add_argument("--password", default="", help="API password")
    parser.add_argument(
        "--radius-server", help="RADIUS server HOST[:AUTH_PORT] for the hotspot (sets use-radius)"
    )
    parser.add_argument("--radius-acct-port", type=int, help="accounting port (auth port + 1)")
    parser.add_argument("--radius-secret", default="", help="RADIUS shared secret")
    parser.add_argument("--radius-timeout", default="300ms", help="RADIUS timeout (RouterOS form)")
    parser.add_argument(
        "--no-require-message-auth",
        action="store_true",
        help="accept RADIUS replies without Message-Authenticator (RouterOS 7 requires it)",
    )
    parser.add_argument("--incoming-port", type=int, help="accept Disconnect/CoA on this UDP port")
    parser.add_argument("--portal-url", help="external captive portal the login page redirects to")
    parser.add_argument("--public-url", help="hotspot base URL clients use, if not address:port")
    parser.add_argument("--hosts", type=int, default=0, help="devices present at boot")
    parser.add_argument(
        "--assume-last-client",
        action="store_true",
        help="requests that name no client come from the last one shown the login page (demo)",
    )
    parser.add_argument("--count", type=int, default=1, help="number of routers (ports step by 1)")
    parser.add_argument(
        "--step-address",
        action="store_true",
        help="with --count: give each router the next address too (127.0.0.2, .3, ...)",
    )
    parser.add_argument("--log-level", default="INFO", help="logging level")
    return parser


def parse_args(argv: Sequence[str] | None) -> tuple[SimulatorConfig, argparse.Namespace]:
    """Parse `hotspotd simulate-router` arguments into a SimulatorConfig."""
    args = build_parser().parse_args(argv)
    radius_server = None
    auth_port = 1812
    if args.radius_server:
        radius_server, _, port_text = args.radius_server.partition(":")
        auth_port = int(port_text) if port_text else 1812
    acct_port = args.radius_acct_port or auth_port + 1
    base = RouterConfig(
        identity=args.identity,
        address=args.address,
        api_port=args.api_port,
        hotspot_port=args.hotspot_port,
        username=args.username,
        password=args.password,
        radius_server=radius_server,
        radius_auth_port=auth_port,
        radius_acct_port=acct_port,
        radius_secret=args.radius_secret,
        radius_timeout=args.radius_timeout,
        radius_require_message_auth=not args.no_require_message_auth,
        incoming_port=args.incoming_port,
        portal_url=args.portal_url,
        public_url=args.public_url,
        initial_hosts=args.hosts,
        assume_last_client=args.assume_last_client,
    )
    if args.count <= 1:
        return SimulatorConfig((base,)), args

    def step(port: int | None, i: int) -> int | None:
        return port + i if port else port

    routers = []
    for i in range(args.count):
        address = base.address
        if args.step_address:
            address = str(ipaddress.IPv4Address(base.address) + i)
        routers.append(
            replace(
                base,
                identity=f"{base.identity}-{i + 1}",
                address=address,
                api_port=step(base.api_port, i) or 0,
                hotspot_port=step(base.hotspot_port, i) or 0,
                incoming_port=step(base.incoming_port, i),
                public_url=None,
            )
        )
    return SimulatorConfig(tuple(routers)), args


async def serve(config: SimulatorConfig) -> None:
    """Run the simulator until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    async with await start_simulator(config) as simulator:
        for running in simulator.routers:
            logger.info(
                "router %s ready: api %s:%d hotspot %s incoming %s",
                running.config.identity,
                running.address,
                running.api_port,
                running.hotspot_url,
                running.incoming_port,
            )
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `hotspotd simulate-router`."""
    config, args = parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(serve(config))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
