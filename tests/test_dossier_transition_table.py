"""The transition table, written out again from DOMAIN.md §2.3, against app.dossiers.status for every status.

The lifecycle tests walk real dossiers through each transition; this one checks
every (action, status) pair, so a status wrongly allowed or refused anywhere in
the table shows up.
"""

from __future__ import annotations

import pytest

from app.core.errors import Conflict
from app.dossiers.status import TRANSITIONS, check_transition

# action -> (statuses it leaves from, status it reaches; None = unchanged), as DOMAIN.md §2.3 says.
DOMAIN_TABLE = {
    "submit": ({0}, 1),  # 0 -> 1: submitted online or by post
    "accept": ({1}, 2),  # 1 -> 2: form 01
    "guide": ({1}, None),  # 1 stays 1: form 02 before acceptance
    "refuse": ({1}, 3),  # 1 -> 3: form 03
    "transfer": ({2}, 4),  # 2 -> 4
    "forward": ({4}, 4),  # 4 -> 4: step handover
    "request_supplement": ({4}, 5),  # 4 -> 5: form 02, clock paused
    "receive_supplement": ({5}, 4),  # 5 -> 4: clock resumes
    "request_payment": ({4}, 6),  # 4 -> 6
    "confirm_payment": ({6}, 4),  # 6 -> 4
    "apologise": ({4, 5, 6}, None),  # form 04 while the dossier is open and being handled
    "stop": ({4, 5}, 8),  # 4 -> 8 not eligible; 5 -> 8 supplement deadline missed
    "withdraw": ({1, 2, 4, 5}, 7),  # 1/2/4/5 -> 7
    "complete": ({4}, 9),  # 4 -> 9: result signed
    "return_result": ({9}, 10),  # 9 -> 10
}


def test_the_code_has_exactly_the_domain_actions():
    assert set(TRANSITIONS) == set(DOMAIN_TABLE)


@pytest.mark.parametrize("action", sorted(DOMAIN_TABLE))
@pytest.mark.parametrize("status", range(0, 11))
def test_each_action_from_each_status(action, status):
    sources, target = DOMAIN_TABLE[action]
    if status in sources:
        assert check_transition(action, status).target == target
    else:
        with pytest.raises(Conflict) as refused:
            check_transition(action, status)
        assert refused.value.status == 409
        allowed = refused.value.errors["allowed"]
        assert allowed == [name for name, (froms, _) in DOMAIN_TABLE.items() if status in froms]
