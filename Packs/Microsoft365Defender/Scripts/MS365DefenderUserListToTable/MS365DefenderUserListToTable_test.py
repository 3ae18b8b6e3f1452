import pytest
from MS365DefenderUserListToTable import users_to_rows


@pytest.mark.parametrize('value, expected', [
    ('alice,bob,alice', [{'user': 'alice'}, {'user': 'bob'}]),
    ([' carol ', ''], [{'user': 'carol'}]),
    (None, []),
])
def test_users_to_rows(value, expected):
    """Given the impacted users (joined text or list), When converted, Then one grid row per distinct user."""
    assert users_to_rows(value) == expected
