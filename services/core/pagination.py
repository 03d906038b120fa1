"""Limit/offset pagination with a hard cap; the one way lists are paged.

A page asks for one row more than it returns, so ``has_more`` costs no COUNT(*).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select

MAX_LIMIT = 100
DEFAULT_LIMIT = 50

T = TypeVar("T")
S = TypeVar("S", bound=Select[Any])


@dataclass(frozen=True)
class PageParams:
    limit: int = DEFAULT_LIMIT
    offset: int = 0

    def apply(self, query: S) -> S:
        return query.limit(self.limit + 1).offset(self.offset)


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


PageDep = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    limit: int
    offset: int
    has_more: bool

    @classmethod
    def build(cls, rows: Sequence[T], params: PageParams) -> Page[T]:
        return cls(
            items=list(rows[: params.limit]),
            limit=params.limit,
            offset=params.offset,
            has_more=len(rows) > params.limit,
        )
