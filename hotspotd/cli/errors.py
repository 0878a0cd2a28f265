"""The CLI's one error type."""


class CommandError(Exception):
    """An expected failure: printed as one line, exit status 1."""
