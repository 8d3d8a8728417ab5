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


class JSONTooDeep(ValueError):
    pass


def depth_of(value) -> int:
    """Nesting depth of lists and objects (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def check_depth(value, limit: int | None = None):
    limit = settings.MAX_JSON_DEPTH if limit is None else limit
    if depth_of(value) > limit:
        raise JSONTooDeep(f"JSON nested deeper than {limit} levels.")
    return value


def loads(raw: str | bytes, limit: int | None = None):
    """`json.loads` that raises ValueError (JSONTooDeep) for over-deep nesting, never RecursionError."""
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
        except JSONTooDeep as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
