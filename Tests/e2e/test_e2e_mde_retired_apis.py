"""Defender for Endpoint commands whose Microsoft API is retired: when Microsoft answers that the API is gone, the
command ends in a clear error entry naming the command to use instead (through xsoar-local, against the emulator
answering as a retired API does)."""
from __future__ import annotations

import pytest

from microsoft_emulator.testing import admin

pytestmark = pytest.mark.e2e

INTEGRATION = 'MicrosoftDefenderAdvancedThreatProtection'
P = 'microsoft-atp'


def message(result) -> str:
    assert result.has_error
    text = ' '.join(str(e) for e in result.errors)
    assert 'Traceback' not in text
    return text


def test_removed_ti_indicators(local_run, mde, e2e_emulator):
    """Given Graph answering that the tiIndicators segment no longer exists, When the legacy indicator list runs,
    Then the error names microsoft-atp-sc-indicator-list."""
    e2e_emulator.add_fault(path_regex='^/beta/security/tiIndicators', status=400, count='always', body={
        'error': {'code': 'BadRequest', 'message': "Resource not found for the segment 'tiIndicators'."}})
    run = local_run(INTEGRATION)
    text = message(run.run(run.instance('client-secret'), f'{P}-indicator-list'))
    assert 'no longer serves its API' in text and '!microsoft-atp-sc-indicator-list' in text


def test_manual_investigations_ended(local_run, mde, e2e_emulator):
    """Given Defender for Endpoint answering 410 Gone to startInvestigation, When the command runs, Then the error
    says manual triggering ended and names microsoft-atp-list-investigations."""
    url, ca = mde
    machine_id = admin(url, 'GET', '/mde/machines', verify=ca)[0]['id']
    e2e_emulator.add_fault(path_regex=r'/startInvestigation$', status=410, count='always')
    run = local_run(INTEGRATION)
    text = message(run.run(run.instance('client-secret'), f'{P}-start-investigation', machine_id=machine_id,
                           comment='e2e'))
    assert '1 September 2026' in text and '!microsoft-atp-list-investigations' in text
