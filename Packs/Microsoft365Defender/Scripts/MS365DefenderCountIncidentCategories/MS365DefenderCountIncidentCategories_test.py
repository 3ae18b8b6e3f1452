import pytest
from MS365DefenderCountIncidentCategories import count_categories


@pytest.mark.parametrize('value, expected', [
    ('Malware,InitialAccess,Malware', [{'category': 'Malware', 'count': 2}, {'category': 'InitialAccess', 'count': 1}]),
    (['Execution', ' Execution '], [{'category': 'Execution', 'count': 2}]),
    ('', []),
    (None, []),
])
def test_count_categories(value, expected):
    """Given the categories the mapper joined (or a list), When counted, Then one row per category with its count,
    in order of first appearance, blanks ignored."""
    assert count_categories(value) == expected
