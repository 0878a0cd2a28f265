"""Errors raised by the store modules; views turn them into HTTP answers."""


class NotFound(Exception):
    """The row does not exist, or belongs to another tenant."""


class Conflict(Exception):
    """The change clashes with existing data (a duplicate name, a wrong state)."""
