"""A sample requester's finished intake, for tickets filed without a conversation: the tests,
the benchmarks and the demo's seed use this one draft."""

from __future__ import annotations

from handlers.intake import Draft

DRAFT = Draft(
    category="printers",
    description="The printer on the 3rd floor jams on every page",
    location="HQ, room 301",
    name="Alice Brown",
    phone="+380671234567",
    asset="INV-0042",
    asset_done=True,
    files_done=True,
    urgency="high",
)
