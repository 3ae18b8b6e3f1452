"""CI checks what the README says it checks: every stage of `make test` (the reliability suite included) runs in the
GitLab pipeline, and the pipeline's test job is the developer's own entry point."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _ci_scripts() -> list[str]:
    pipeline = yaml.safe_load((ROOT / '.gitlab-ci.yml').read_text(encoding='utf-8'))
    lines: list[str] = []
    for name, job in pipeline.items():
        if isinstance(job, dict) and 'script' in job and not name.startswith('.'):
            lines += [str(line) for line in job['script']]
    return lines


def _make_test_targets() -> set[str]:
    """The make targets the `test` recipe runs (each `$(MAKE) ... <targets>` line)."""
    makefile = (ROOT / 'Makefile').read_text(encoding='utf-8')
    recipe = re.search(r'^test:.*\n((?:\t.*\n)+)', makefile, re.MULTILINE)
    assert recipe, 'the Makefile has a test target'
    targets: set[str] = set()
    for line in recipe.group(1).splitlines():
        if '$(MAKE)' in line:
            words = line.split('$(MAKE)', 1)[1].split()
            targets |= {w for w in words if not w.startswith('-')}
    return targets


def _ci_runs(target: str, scripts: list[str]) -> bool:
    entry = (ROOT / '.ci' / 'run').read_text(encoding='utf-8')
    via_entry = any(line.strip() == '.ci/run' for line in scripts) and re.search(r'^make test\b', entry, re.MULTILINE)
    return bool(via_entry) or any(re.search(rf'\bmake\b.*\b{re.escape(target)}\b', line) for line in scripts)


def test_every_stage_of_make_test_runs_in_ci():
    """
    Given the stages `make test` runs (lint, validate, unit, e2e, reliability)
    When the GitLab pipeline's job scripts are read
    Then each stage is run by a job (directly or through .ci/run, which is `make test`)
    """
    targets = _make_test_targets()
    assert {'lint', 'validate', 'unit', 'e2e', 'reliability'} <= targets
    scripts = _ci_scripts()
    assert [t for t in sorted(targets) if not _ci_runs(t, scripts)] == []


def test_readme_names_what_ci_runs():
    """
    Given the README's quick start
    When it says what `make test` covers
    Then it names the reliability stage that CI runs with it
    """
    readme = (ROOT / 'README.md').read_text(encoding='utf-8')
    line = next(line for line in readme.splitlines() if line.startswith('make test'))
    assert 'CI' in line and 'reliability' in line
