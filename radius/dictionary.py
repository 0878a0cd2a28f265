"""The pyrad dictionary shipped with hotspotd (RFC 2865/2866/2869/3576/5176 + MikroTik)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pyrad.dictionary import Dictionary

DICTIONARY_PATH = Path(__file__).with_name("dictionaries") / "dictionary"


@cache
def load_dictionary() -> Dictionary:
    """Return the parsed dictionary (parsed once per process)."""
    return Dictionary(str(DICTIONARY_PATH))
