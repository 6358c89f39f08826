"""The desk's report for a period: the facts storage aggregates, turned into figures."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.outbound import Digest
from handlers.reports import Period, Report, build
from storage import reports


async def report(session: AsyncSession, period: Period, top: int = 10) -> Report:
    """The report for ``period``, straight from the database."""
    return build(await reports.collect(session, period.since, period.until), period, top)


def digest_period(digest: Digest) -> Period:
    """The period a weekly digest message covers."""
    return Period(
        datetime.fromisoformat(digest.since),
        datetime.fromisoformat(digest.until),
        ZoneInfo(digest.zone),
    )
