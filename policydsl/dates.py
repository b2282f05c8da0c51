"""A date the text gives only to the year or the month ("2022年*月*日"): the days it may be.

Standard library only; the AST, the plan and every back end share it."""

from __future__ import annotations

import calendar
import datetime

import attrs


@attrs.frozen
class PartialDate:
    """A date known only to its `year`, or to its `year` and `month` (None: not known)."""

    year: int
    month: int | None = None

    @property
    def first_day(self) -> datetime.date:
        """The earliest day it may be."""
        return datetime.date(self.year, self.month or 1, 1)

    @property
    def last_day(self) -> datetime.date:
        """The latest day it may be."""
        month = self.month or 12
        return datetime.date(self.year, month, calendar.monthrange(self.year, month)[1])

    @property
    def known(self) -> str:
        """What the text gives of it, in the reader's words: 年份 or 年月."""
        return "年份" if self.month is None else "年月"

    def words(self) -> str:
        """The date as the reader writes it: 2022年*月*日, 2022年5月*日."""
        return f"{self.year}年{'*' if self.month is None else self.month}月*日"

    def isoformat(self) -> str:
        """The date as the language writes it: 2022-*-*, 2022-05-*."""
        return f"{self.year:04d}-{'*' if self.month is None else f'{self.month:02d}'}-*"


def first_day(value: datetime.date | PartialDate) -> datetime.date:
    """The earliest day a date, exact or partial, may be."""
    return value.first_day if isinstance(value, PartialDate) else value


def last_day(value: datetime.date | PartialDate) -> datetime.date:
    """The latest day a date, exact or partial, may be."""
    return value.last_day if isinstance(value, PartialDate) else value
