"""Hypothesis strategies for command arguments: what a careless or malicious user might type, and plausible values.

Every argument of a generated call is either left out, given a plausible value (an example from the integration's
``command_examples``, a predefined choice or the YAML default — so the call gets past the other arguments' checks and
reaches deeper code), or given a hostile value from the families below.
"""
from __future__ import annotations

from hypothesis import strategies as st

from reliability.hostile_runtime import ArgSpec, CommandSpec

HUGE_TEXT = 'A' * 20_000
NUMBERS = ['-1', '0', '-0', '1.5', '1e309', 'NaN', 'inf', '-9999999999999999999999', '9' * 400, '0x10', '1_000',
           ' 7 ', '+3', '٣', '¹']
DATES = ['2024-13-45T25:61:00Z', '0000-00-00', '9999-99-99T99:99:99', '31/02/2024', '-3 days', '1 fortnight',
         'yesterday at noon-ish', '10000 years', '2024-01-01T00:00:00+25:00', '@1700000000', 'P1Y2M', '1 day ago ago']
JSON_TEXTS = ['{', '[1, 2', '{"a":', 'null', '[]', '{}', '"text"', '{"$filter": 1}', '[{"indicatorValue": null}]',
              '{"@odata.nextLink": "https://evil.example/x"}', '{' * 200, '[' * 2000]
SPECIAL = ['', ' ', '\x00', '\t\n', "'", '"', "') or true or ('", '" | take 1', '../..', '%2F', '?#', '\\',
           '\u202e', '\ud7ff', '😀' * 50, 'null', 'None', 'true', 'false', ',', ',,,', 'a,b,,c', '*']

hostile_values = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.characters(min_codepoint=0x80), min_size=1, max_size=20),
    st.sampled_from(NUMBERS),
    st.integers(min_value=-10**30, max_value=10**30).map(str),
    st.sampled_from(DATES),
    st.sampled_from(JSON_TEXTS),
    st.sampled_from(SPECIAL),
    st.just(HUGE_TEXT),
)


def plausible_values(command: CommandSpec, arg: ArgSpec) -> list[str]:
    found = [example[arg.name] for example in command.examples if arg.name in example]
    found += list(arg.predefined) + ([arg.default] if arg.default else [])
    return list(dict.fromkeys(found))


def argument_sets(command: CommandSpec) -> st.SearchStrategy[dict[str, str]]:
    """A call's arguments: each one absent, plausible or hostile — with at least one hostile value."""
    def one(arg: ArgSpec) -> st.SearchStrategy[tuple[str, str | None, bool]]:
        options: list[st.SearchStrategy] = [st.just((arg.name, None, False)),
                                            hostile_values.map(lambda v: (arg.name, v, True))]
        plausible = plausible_values(command, arg)
        if plausible:
            options.append(st.sampled_from(plausible).map(lambda v: (arg.name, v, False)))
        return st.one_of(*options)

    combos = st.tuples(*(one(arg) for arg in command.args))
    return combos.filter(lambda items: any(hostile for _, _, hostile in items)).map(
        lambda items: {name: value for name, value, _ in items if value is not None})
