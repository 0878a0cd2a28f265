"""Argument parsing and dispatch; every expected failure is one line on stderr."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from hotspotd.cli.errors import CommandError
from hotspotd.settings import CONFIG_ENV, SettingsError

EXIT_USAGE = 2


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        help=f"settings file (default: ${CONFIG_ENV} or /etc/hotspotd/hotspotd.toml)",
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of every subcommand."""
    from hotspotd.cli import admin, commands, dev

    parser = argparse.ArgumentParser(prog="hotspotd", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def add(
        name: str, handler: Callable[[argparse.Namespace], int], help_: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(handler=handler)
        return p

    _add_config(add("migrate", commands.migrate, "apply database migrations"))
    _add_config(add("serve", commands.serve, "run the portal (captive portal, admin, API)"))
    p = add("worker", commands.worker, "run an ARQ worker for one queue group")
    _add_config(p)
    p.add_argument("--queue", required=True, choices=("critical", "management", "general"))
    p = add("radius-config", commands.radius_config, "render the FreeRADIUS configuration")
    _add_config(p)
    p.add_argument("--out", type=Path, help="target directory (default: radius.config_dir)")
    p = add("check-config", commands.check_config, "validate the settings file and exit")
    _add_config(p)
    p = add("create-admin", admin.create_admin, "create a system admin (the box owner)")
    _add_config(p)
    admin.add_arguments(p)
    p = add("dev", dev.run_dev, "run the whole system with a demo configuration")
    p.add_argument("--dir", type=Path, default=Path(".demo"), help="data folder (default .demo)")
    p.add_argument("--portal-port", type=int, default=8080, help="portal port (0: any free)")
    sub.add_parser(
        "simulate-router", help="run simulated MikroTik routers", add_help=False
    ).set_defaults(handler=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the hotspotd command line."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["simulate-router"]:
        # The simulator parses its own options (it is also a standalone tool).
        from routers.simulator.run import main as simulator_main

        return simulator_main(args_list[1:])
    parser = build_parser()
    args = parser.parse_args(args_list)
    try:
        result: int = args.handler(args)
    except (SettingsError, CommandError) as exc:
        print(f"hotspotd: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main())
