"""Lazy iteration over cursor-paginated lists."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

from assay.sdk.models import Page

T = TypeVar("T")


def iterate(fetch: Callable[[str | None], Page[T]]) -> Iterator[T]:
    """Every item of every page, fetching the next page only when the previous one is used up."""
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        yield from page.items
        if not page.next_cursor:
            return
        cursor = page.next_cursor
