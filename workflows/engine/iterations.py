"""Which loop iteration a node instance belongs to, for loops nested in loop bodies.

The second half of a `NodeKey` names the iteration:

- `None` outside every loop body;
- an `int` (the 0-based item index) in the body of a loop that is itself outside any loop
  body, exactly as before nested loops existed;
- a tuple of ints, outermost loop's index first, in the body of a nested loop: `(2, 0)` is
  iteration 0 of the inner loop inside iteration 2 of the outer one.

A `NodeState` stores the same thing split in two: `iteration` (the innermost index, an int
or None) and `outer` (the enclosing loops' indices, empty unless nested), so hosts and
readers that only know single-level loops keep seeing an int.
"""

from __future__ import annotations

IterationKey = int | tuple[int, ...] | None


def child(it: IterationKey, index: int) -> IterationKey:
    """The key of iteration `index` of a loop whose own instance has key `it`."""
    if it is None:
        return index
    if isinstance(it, int):
        return (it, index)
    return (*it, index)


def parent(it: IterationKey) -> IterationKey:
    """The key of the loop instance that runs iteration `it` (None for a top-level loop)."""
    if it is None or isinstance(it, int):
        return None
    return it[0] if len(it) == 2 else it[:-1]


def index(it: IterationKey) -> int | None:
    """The innermost loop's item index."""
    return it if it is None or isinstance(it, int) else it[-1]


def outer(it: IterationKey) -> tuple[int, ...]:
    """The enclosing loops' indices, outermost first (empty unless nested)."""
    return it[:-1] if isinstance(it, tuple) else ()


def join(iteration: int | None, outer_indices: tuple[int, ...] | list[int]) -> IterationKey:
    """The key of a stored (`iteration`, `outer`) pair."""
    if iteration is None or not outer_indices:
        return iteration
    return (*outer_indices, iteration)


def path(iteration: int | None, outer_indices: tuple[int, ...] | list[int] = ()) -> list[int] | None:
    """`iteration_path` as shown to readers: None outside loops, `[i]` in a loop body,
    `[outer, ..., inner]` in a nested loop body."""
    return None if iteration is None else [*outer_indices, iteration]


def encode_outer(outer_indices: tuple[int, ...] | list[int]) -> str:
    """The stored text of the enclosing loops' indices ("" unless nested): "2" or "2.0"."""
    return ".".join(str(i) for i in outer_indices)


def decode_outer(text: str | None) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")) if text else ()


__all__ = [
    "IterationKey",
    "child",
    "decode_outer",
    "encode_outer",
    "index",
    "join",
    "outer",
    "parent",
    "path",
]
