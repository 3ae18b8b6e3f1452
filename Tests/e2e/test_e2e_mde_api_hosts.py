"""Defender for Endpoint on the API base Microsoft Learn now documents (api.security.microsoft.com and its geo hosts,
selected in Endpoint Type by host name): through xsoar-local against the emulator (the Server URL points the API at
it, as for every endpoint type), each host type is accepted, signs in with the Defender for Endpoint token audience
Learn requires, and runs commands with the same context as Worldwide."""
from __future__ import annotations

import pytest
from e2e_runtime import ok

pytestmark = pytest.mark.e2e

INTEGRATION = 'MicrosoftDefenderAdvancedThreatProtection'
P = 'microsoft-atp'
MDE_RESOURCE = 'mde'     # the emulator logs a token's resource by key: WindowsDefenderATP, not Defender XDR


@pytest.mark.parametrize('endpoint_type', ['api.security.microsoft.com', 'eu.api.security.microsoft.com',
                                           'aea.api.security.microsoft.com'])
def test_documented_hosts_run_commands_with_the_defender_for_endpoint_token(local_run, mde, endpoint_type):
    """Given an instance whose Endpoint Type names a documented api.security.microsoft.com host, When machines are
    listed, Then the token is asked for the Defender for Endpoint audience and the context equals Worldwide's."""
    run = local_run(INTEGRATION)
    run.clear_requests()
    on_host = ok(run.run(run.instance('client-secret', endpoint_type=endpoint_type), f'{P}-get-machines', limit='3'))
    tokens = run.token_requests()
    assert len(tokens) == 1 and tokens[0].get('status') == 200
    assert tokens[0].get('resource') == MDE_RESOURCE
    assert [e['path'] for e in run.requests(('mde',))] == ['/api/machines']
    worldwide = ok(run.run(run.instance('client-secret'), f'{P}-get-machines', limit='3'))
    assert on_host.context == worldwide.context and on_host.context
