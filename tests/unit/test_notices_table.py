"""The notice table: each event has its templates, a recipient, a label if it can be turned off."""

from __future__ import annotations

from pathlib import Path

import pytest

from webapp.notifications.notices import CLIENT, FREELANCER, NOTICES, freelancer_notices

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "email"


@pytest.mark.parametrize("event", sorted(NOTICES))
def test_each_notice_has_both_templates_and_a_recipient(event):
    notice = NOTICES[event]
    assert notice.recipient in (FREELANCER, CLIENT)
    for suffix in (".txt", ".html"):
        assert (TEMPLATES / f"{notice.template}{suffix}").is_file(), (event, suffix)


def test_only_freelancer_notices_can_be_switched_off_and_each_says_what_it_is():
    choices = freelancer_notices()
    assert {n.event for n in choices} == {
        e for e, n in NOTICES.items() if n.recipient == FREELANCER
    }
    assert all(n.label for n in choices)
    assert not any(n.optional for n in NOTICES.values() if n.recipient == CLIENT)
