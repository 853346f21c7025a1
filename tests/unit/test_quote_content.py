"""Quote figures without I/O: milestones add up exactly, percentages, the content hash."""

from __future__ import annotations

import pytest

from webapp.quotes import content as qc


@pytest.mark.parametrize(
    "amounts, ok",
    [
        ([30_000, 70_000], True),
        ([30_000, 70_001], False),  # one minor unit over
        ([30_000, 69_999], False),  # one minor unit under
    ],
)
def test_fixed_amounts_must_add_up_to_the_total_to_the_minor_unit(amounts, ok):
    milestones = [{"amount_minor": a} for a in amounts]
    if ok:
        assert qc.milestone_amounts(milestones, 100_000) == amounts
    else:
        with pytest.raises(qc.ContentError) as error:
            qc.milestone_amounts(milestones, 100_000)
        assert "milestones" in error.value.fields


def test_percentages_put_the_rounding_remainder_on_the_last_one():
    # given a total of 1000.01 split in three thirds (33.33 + 33.33 + 33.34 %)
    milestones = [{"percent_bp": 3333}, {"percent_bp": 3333}, {"percent_bp": 3334}]
    # when converted
    amounts = qc.milestone_amounts(milestones, 100_001)
    # then each share is rounded and the last one absorbs the difference
    assert amounts == [33_330, 33_330, 33_341]
    assert sum(amounts) == 100_001


def test_percent_and_fixed_mix_must_be_exact():
    assert qc.milestone_amounts([{"amount_minor": 50_000}, {"percent_bp": 5000}], 100_000) == [
        50_000,
        50_000,
    ]
    with pytest.raises(qc.ContentError):
        qc.milestone_amounts([{"amount_minor": 50_000}, {"percent_bp": 4999}], 100_000)


def test_percentages_need_a_total():
    with pytest.raises(qc.ContentError):
        qc.milestone_amounts([{"percent_bp": 10_000}], None)


def test_vat_is_added_half_up_and_split_back_exactly():
    lines = qc.line_amounts([{"description": "x", "quantity": 3, "unit_amount_minor": 3_333}])
    totals = qc.totals_from_lines(lines, 2000)
    assert (totals.excl_vat_minor, totals.vat_minor, totals.total_minor) == (9_999, 2_000, 11_999)
    back = qc.totals_from_total(12_000, 2000)
    assert back.excl_vat_minor + back.vat_minor == 12_000 and back.excl_vat_minor == 10_000


def test_the_hash_changes_with_any_content_change_and_not_with_key_order():
    a = {"title": "Site", "milestones": [{"amount_minor": 100}], "terms": "é"}
    b = {"terms": "é", "milestones": [{"amount_minor": 100}], "title": "Site"}
    assert qc.content_sha256(a) == qc.content_sha256(b)
    assert qc.content_sha256(a) != qc.content_sha256({**a, "milestones": [{"amount_minor": 101}]})
    assert len(qc.content_sha256(a)) == 64
