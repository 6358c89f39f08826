"""The wall clock. The core takes ``now`` as an argument (tests move their own clock); this is
the default the running desk passes in."""

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
