"""Numbers people type (phones, ID numbers) take ASCII digits only: other scripts' digits would
slip past format and uniqueness checks ('٠٣١١٩٠٠٠١٢٣٤' is not '031190001234' to the database)."""

from __future__ import annotations

import pytest

from app.auth import citizens
from app.dossiers import intake
from app.dossiers.intake import Applicant
from tests.test_citizen_accounts import form_of

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.mark.parametrize("table", [ARABIC_INDIC, FULL_WIDTH])
def test_citizen_registration_takes_ascii_digits_only(table):
    assert citizens.normalize_phone("0912345678") == "0912345678"
    assert citizens.normalize_phone("0912345678".translate(table)) is None
    _, errors = citizens.validate_registration(form_of(phone="0912345678".translate(table)))
    assert "phone" in errors
    _, errors = citizens.validate_registration(form_of(personal_id="031190001234".translate(table)))
    assert "personal_id" in errors
    _, errors = citizens.validate_registration(form_of(personal_id="031190001234"))
    assert "personal_id" not in errors


@pytest.mark.parametrize("table", [ARABIC_INDIC, FULL_WIDTH])
def test_counter_intake_takes_ascii_digits_only(table):
    problems = intake._Problems()
    intake._check_applicant(
        Applicant(
            name="Nguyễn Văn A",
            id_type="cccd",
            id_number="031190001234".translate(table),
            phone="0912345678".translate(table),
        ),
        problems,
    )
    assert {"applicant.id_number", "applicant.phone"} <= set(problems.items)
    fine = intake._Problems()
    intake._check_applicant(Applicant(name="Nguyễn Văn A", id_type="cccd", id_number="031190001234"), fine)
    assert not fine.items
