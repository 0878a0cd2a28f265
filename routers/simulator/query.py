"""Print queries of the RouterOS API (`?name=x`, `?#|!` ...), compiled to a row predicate."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from routers.simulator.model import TrapError

Predicate = Callable[[dict[str, str]], bool]

_BOOL_ALIASES = {"yes": "true", "no": "false"}


def _same(actual: str, wanted: str) -> bool:
    if actual == wanted:
        return True
    # RouterOS compares typed values: ?disabled=no matches a printed "false".
    return _BOOL_ALIASES.get(wanted.lower()) == actual


def _less(actual: str, wanted: str) -> bool:
    try:
        return int(actual) < int(wanted)
    except ValueError:
        return actual < wanted


def _greater(actual: str, wanted: str) -> bool:
    try:
        return int(actual) > int(wanted)
    except ValueError:
        return actual > wanted


Step = Callable[[dict[str, str], list[bool]], None]


def _push_has(name: str) -> Step:
    return lambda row, stack: stack.append(name in row)


def _push_lacks(name: str) -> Step:
    return lambda row, stack: stack.append(name not in row)


def _push_cmp(name: str, value: str, cmp: Callable[[str, str], bool]) -> Step:
    def step(row: dict[str, str], stack: list[bool]) -> None:
        actual = row.get(name)
        stack.append(actual is not None and cmp(actual, value))

    return step


def _compile_ops(ops: str) -> Step:
    program: list[tuple[str, int]] = []
    i = 0
    while i < len(ops):
        ch = ops[i]
        if ch.isdigit():
            j = i
            while j < len(ops) and ops[j].isdigit():
                j += 1
            program.append(("copy", int(ops[i:j])))
            i = j
            continue
        if ch not in "!&|.":
            raise TrapError(f"invalid query operation {ch!r}", 1)
        program.append((ch, 0))
        i += 1

    def step(row: dict[str, str], stack: list[bool]) -> None:
        try:
            for op, arg in program:
                if op == "!":
                    stack[-1] = not stack[-1]
                elif op == "&":
                    b, a = stack.pop(), stack.pop()
                    stack.append(a and b)
                elif op == "|":
                    b, a = stack.pop(), stack.pop()
                    stack.append(a or b)
                elif op == "copy":
                    # Index counts from the bottom of the stack; "." only separates indexes.
                    stack.append(stack[arg])
        except IndexError:
            raise TrapError("invalid query: stack underflow", 1) from None

    return step


def compile_query(words: Sequence[str]) -> Predicate | None:
    """Compile query words (without the leading '?') into a predicate; None means match all."""
    if not words:
        return None
    steps: list[Step] = []
    for word in words:
        if word.startswith("#"):
            steps.append(_compile_ops(word[1:]))
        elif word.startswith("-"):
            steps.append(_push_lacks(word[1:]))
        elif word.startswith("<") or word.startswith(">"):
            name, sep, value = word[1:].partition("=")
            if not sep:
                raise TrapError(f"invalid query word ?{word}", 1)
            steps.append(_push_cmp(name, value, _less if word[0] == "<" else _greater))
        else:
            body = word[1:] if word.startswith("=") else word
            name, sep, value = body.partition("=")
            if sep:
                steps.append(_push_cmp(name, value, _same))
            else:
                steps.append(_push_has(name))

    def predicate(row: dict[str, str]) -> bool:
        stack: list[bool] = []
        for step in steps:
            step(row, stack)
        # Every value left on the stack must be true (an implicit AND).
        return all(stack)

    return predicate
