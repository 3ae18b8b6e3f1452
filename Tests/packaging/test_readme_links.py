"""Relative links in the repository's READMEs lead to files a fresh clone has (build outputs are not committed)."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RELATIVE_LINK = re.compile(r'\]\((?!https?:|mailto:|#)([^)#\s]+)')
CODE_BLOCK = re.compile(r'^```.*?^```', re.MULTILINE | re.DOTALL)


def test_relative_readme_links_resolve_in_a_fresh_clone():
    """Given every tracked README, When its relative links are followed, Then each lands on a tracked file or folder."""
    tracked = set(subprocess.run(['git', 'ls-files'], cwd=ROOT, capture_output=True, text=True,
                                 check=True).stdout.split())
    folders = {parent.as_posix() for path in tracked for parent in Path(path).parents}
    broken = []
    for readme in sorted(p for p in tracked if p.endswith('README.md')):
        for target in RELATIVE_LINK.findall(CODE_BLOCK.sub('', (ROOT / readme).read_text(encoding='utf-8'))):
            resolved = os.path.normpath(os.path.join(os.path.dirname(readme), target))
            if resolved not in tracked and resolved not in folders:
                broken.append(f'{readme}: {target}')
    assert not broken, broken
