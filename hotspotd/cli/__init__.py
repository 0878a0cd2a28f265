"""The `hotspotd` command: the outermost layer, the only one that wires every package."""

from hotspotd.cli.main import main

__all__ = ["main"]
