"""JSON from outside (API bodies, webhook bodies): parsed with a bound on nesting depth.

Python's parser recurses, so a document nested ~1,000 deep raises RecursionError (not a
ValueError) and nested data that does parse can still break whatever recurses over it later
(templates, storage encoding). `loads` turns both into `JSONTooDeep`, a ValueError, at
`MAX_JSON_DEPTH`."""

from __future__ import annotations

import json

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class JSONRefused(ValueError):
    """JSON that parses but is not taken (a 400 naming what is wrong)."""


class JSONTooDeep(JSONRefused):
    pass


class JSONHasNul(JSONRefused):
    """A string or key holding NUL (`\\u0000`): PostgreSQL stores no NUL in text or jsonb, so
    it is refused at the door on every database instead of failing where it is stored."""


NUL_MESSAGE = "JSON strings and keys must not contain NUL (\\u0000) characters."


def _scan(value) -> tuple[int, bool]:
    """Nesting depth of lists and objects (a scalar is 0), and whether any string or key
    holds NUL, without recursion."""
    if isinstance(value, str):
        return 0, "\x00" in value
    deepest, nul, stack = 0, False, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
            nul = nul or any("\x00" in key for key in item)
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
            elif isinstance(child, str) and "\x00" in child:
                nul = True
    return deepest, nul


def refuse_nul(value):
    """`value` (JSON-like: strings, lists, objects), or JSONHasNul when a string or key holds NUL."""
    if _scan(value)[1]:
        raise JSONHasNul(NUL_MESSAGE)
    return value


def depth_of(value) -> int:
    """Nesting depth of lists and objects (a scalar is 0), without recursion."""
    return _scan(value)[0]


def check_depth(value, limit: int | None = None):
    """`value`, or JSONTooDeep past `limit` levels, or JSONHasNul for a NUL in a string."""
    limit = settings.MAX_JSON_DEPTH if limit is None else limit
    depth, nul = _scan(value)
    if depth > limit:
        raise JSONTooDeep(f"JSON nested deeper than {limit} levels.")
    if nul:
        raise JSONHasNul(NUL_MESSAGE)
    return value


def loads(raw: str | bytes, limit: int | None = None):
    """`json.loads` that raises ValueError (JSONTooDeep) for over-deep nesting, never
    RecursionError, and JSONHasNul for a NUL in a string or key."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise JSONTooDeep(
            f"JSON nested deeper than {settings.MAX_JSON_DEPTH if limit is None else limit} levels."
        ) from None
    return check_depth(value, limit)


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser, with the depth bound: too deep is a 400 PARSE_ERROR."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(
                f"JSON parse error - nested deeper than {settings.MAX_JSON_DEPTH} levels."
            ) from None
        try:
            return check_depth(data)
        except JSONRefused as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
