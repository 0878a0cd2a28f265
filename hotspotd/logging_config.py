"""Logging to stderr (journald picks it up under systemd)."""

from __future__ import annotations

import logging.config


def configure_logging(level: str = "INFO") -> None:
    """Configure the root logger once for a process."""
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
            },
            "handlers": {
                "stderr": {
                    "class": "logging.StreamHandler",
                    "formatter": "plain",
                    "stream": "ext://sys.stderr",
                },
            },
            "root": {"level": level, "handlers": ["stderr"]},
            # aiohttp's access log is noise at INFO on a busy portal.
            "loggers": {"aiohttp.access": {"level": "WARNING"}},
        }
    )
