"""Hostile arguments: hypothesis generates calls to every command of every integration (enumerated from the YAML)
with random, unicode, huge, negative and non-numeric numbers, malformed dates and malformed JSON; each call runs
through xsoar_local in-process against the emulator and must end in a result or a clear error naming the
argument (``hostile_runtime.judge``)."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from reliability.hostile_runtime import all_commands, judge
from reliability.hostile_values import argument_sets

EXAMPLES_PER_COMMAND = 40
COMMANDS = all_commands()


@pytest.fixture(autouse=True)
def no_leftover_faults(emulator_tls):
    """The session's emulator is shared with other suites: start from no queued fault."""
    emulator_tls.faults.clear()


@pytest.mark.parametrize('spec', COMMANDS, ids=str)
def test_random_arguments_end_in_result_or_clear_error(spec, hostile, ledger):
    """Given a command and generated argument sets (at least one hostile value each), When each runs,
    Then it returns a result or a clear error naming an argument — never a traceback or Python's own wording."""
    run = hostile(spec.integration)
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
