"""The ledger itself: counts, verdicts and the failure list."""
from reliability.ledger import Ledger


def test_ledger_counts_and_lists_failures():
    """Given two cases of one check, one failing, When rendered, Then the row shows 2 cases, 1 held, the reason."""
    ledger = Ledger()
    ledger.record('Faults', '500, first request', 'cmd-a', True)
    ledger.record('Faults', '500, first request', 'cmd-b', False, 'traceback in entry')
    text = ledger.markdown()
    assert '| Faults | 500, first request | 2 | 1 | **1 failed** |' in text
    assert 'cmd-b: traceback in entry' in text
