"""The calendar flows again on PostgreSQL: busy rows replaced under the claim's advisory
lock, the claim's re-check, the write-back's row locks."""

from __future__ import annotations

import pytest

from tests.integration.calendars.test_calendar_sync import (  # noqa: F401  (run again here)
    test_a_claim_of_a_busy_time_is_refused_in_its_transaction,
    test_a_feed_that_goes_down_keeps_its_busy_times_and_marks_the_connection,
    test_weekly_busy_event_removes_exactly_its_slots_across_the_dst_change,
)
from tests.integration.calendars.test_calendar_writeback import (  # noqa: F401
    test_bookings_are_written_moved_and_removed_in_the_chosen_calendar,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url(pg_database_url: str) -> str:
    """Every app of this module runs on PostgreSQL."""
    return pg_database_url
