"""Keyset pagination, written once: one page of rows past a key, and the key to go on from.

Every list of the dashboard and the API pages this way: by a unique column
(an id newest first, a server id in order), never by OFFSET, so a page costs
the same however deep it is and rows arriving meanwhile never shift a page.
How the key travels (an opaque `?cursor=`, a plain `?before=`) is the view's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

Row = TypeVar("Row")
Key = TypeVar("Key", int, str)


@dataclass(frozen=True)
class Page(Generic[Row, Key]):
    """The rows of one page and, when another page follows, the key it starts after."""

    items: list[Row]
    next_key: Key | None


def keyset_page(
    session: Session,
    query: Select[tuple[Row]],
    key: InstrumentedAttribute[Key],
    after: Key | None,
    limit: int,
    descending: bool = True,
) -> Page[Row, Key]:
    """Return up to `limit` rows of `query` past `after` in `key` order (descending by default)."""
    if after is not None:
        query = query.where(key < after if descending else key > after)
    query = query.order_by(key.desc() if descending else key.asc())
    # One row more than asked says whether another page follows, without a COUNT.
    rows = list(session.scalars(query.limit(limit + 1)))
    items = rows[:limit]
    if len(rows) <= limit or not items:
        return Page(items, None)
    last: Any = getattr(items[-1], key.key)
    return Page(items, last)
