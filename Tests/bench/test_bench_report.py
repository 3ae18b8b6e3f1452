"""The benchmark table (no emulator): verdicts, markdown rendering, expectations and discovery."""
from __future__ import annotations

from bench import report
from bench.expected import EXPECTED_CALLS, expected_for
from bench.scenarios import FetchFigures, RoundTrip, bench_integrations, command_lines


def _request(host: str, method: str = 'GET', path: str = '/x') -> dict:
    return {'host': host, 'method': method, 'path': path}


def test_round_trip_verdicts():
    """Given a command with one API call, Then cold = token + call and warm = call is met, and a warm token request
    or an extra call is not."""
    expected = expected_for('Microsoft365Defender', 'microsoft-365-defender-incident-get', 'graph')
    good = RoundTrip('Microsoft365Defender', 'graph', 'microsoft-365-defender-incident-get', {},
                     [_request('login', 'POST'), _request('graph')], [_request('graph')], [], expected)
    assert good.met and (good.cold_tokens, good.warm_tokens) == (1, 0)
    token_again = RoundTrip(good.integration, good.variant, good.command, {}, good.cold,
                            [_request('login', 'POST'), _request('graph')], [], expected)
    extra = RoundTrip(good.integration, good.variant, good.command, {}, good.cold + [_request('graph')],
                      [_request('graph'), _request('graph')], [], expected)
    unknown = RoundTrip('New', 'default', 'new-command', {}, good.cold, good.warm, [], None)
    assert not token_again.met and not extra.met and not unknown.met
    rows = report.round_trip_rows([good, token_again, unknown])
    assert [r.verdict for r in rows] == ['yes', 'NO', 'NO']
    assert rows[2].target == 'no expectation recorded'


def test_variant_expectations_override_the_plain_ones():
    """Given the update command, Then Graph needs three calls with a reason and the legacy API one."""
    graph = expected_for('Microsoft365Defender', 'microsoft-365-defender-incident-update', 'graph')
    legacy = expected_for('Microsoft365Defender', 'microsoft-365-defender-incident-update', 'legacy')
    assert graph is not None and legacy is not None
    assert (graph.count, legacy.count) == (3, 1) and graph.reason
    assert all(e.reason for table in EXPECTED_CALLS.values() for e in table.values() if e.count != 1)


def test_every_example_command_has_an_expectation():
    """Given the integrations in the expectation table, Then each command of their examples is listed."""
    for integration in bench_integrations():
        if integration.name in EXPECTED_CALLS:
            for command, _ in command_lines(integration):
                assert expected_for(integration.name, command, 'default') or \
                    expected_for(integration.name, command, 'graph'), command


def test_fetch_minimum_and_markdown():
    """Given fetch figures, Then the minimum is ceil(N / page) + cycles and the markdown table shows the verdicts."""
    figures = FetchFigures('M365D', 10_000, 100, cycles=11, api_requests=111, token_requests=1, fetched=10_000,
                           unique=10_000, last_run_bytes=81, peak_kb=51_200, seconds=20.0)
    assert figures.minimum == 111 and figures.per_second == 500
    rows = report.fetch_rows([figures], [('MicrosoftDefenderAdvancedThreatProtection', 'MDE alerts')])
    text = report.to_markdown(rows, 'T')
    assert text.startswith('# T\n\n| Section | Measured | Figure | Target | Met | Notes |')
    assert '| ≤ ceil(10,000/100) + 11 = 111 | yes |' in text
    assert '| MDE alerts | pending: Defender for Endpoint |  | — |' in text
    assert '3 of 3 targets met.' in text
