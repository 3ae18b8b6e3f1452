"""Hostile arguments: hypothesis generates calls to every command of every integration (enumerated from the YAML)
with random, unicode, huge, negative and non-numeric numbers, malformed dates and malformed JSON; each call runs
through the integration's ``main()`` against the emulator and must end in a result or a clear error naming the
argument (``hostile_runtime.judge``)."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from reliability.hostile_runtime import InProcess, all_commands, judge
from reliability.hostile_values import argument_sets

EXAMPLES_PER_COMMAND = 40
COMMANDS = all_commands()
_RUNNERS: dict[str, InProcess] = {}


@pytest.fixture(autouse=True)
def no_leftover_faults(emulator_tls):
    """The session's emulator is shared with other suites: start from no queued fault."""
    emulator_tls.faults.clear()


def runner(integration: str, server) -> InProcess:
    """One in-process runner per integration: its token stays cached across the session's examples."""
    if integration not in _RUNNERS or _RUNNERS[integration].server is not server:
        _RUNNERS[integration] = InProcess(integration, server)
    return _RUNNERS[integration]


@pytest.mark.parametrize('spec', COMMANDS, ids=str)
def test_random_arguments_end_in_result_or_clear_error(spec, emulator_tls, ledger, tmp_path, monkeypatch):
    """Given a command and generated argument sets (at least one hostile value each), When each runs through main(),
    Then it returns a result or a clear error naming an argument — never a traceback or Python's own wording."""
    monkeypatch.chdir(tmp_path)  # file results (investigation packages) land here
    run = runner(spec.integration, emulator_tls)
    failures: list[str] = []

    @settings(max_examples=EXAMPLES_PER_COMMAND, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(argument_sets(spec))
    def case(args: dict[str, str]) -> None:
        reason = judge(run.run(spec.name, args), spec)
        shown = {k: (v[:40] + '…' if len(v) > 40 else v) for k, v in args.items()}
        ledger.record('Hostile input', 'random arguments per command (hypothesis)', f'{spec.name} {shown}',
                      not reason, reason)
        if reason:
            failures.append(f'{shown}: {reason}')

    case()
    assert failures == []
