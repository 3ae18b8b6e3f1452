"""Contract tests: the integration sources are importable by module name, as in the content repository."""
from __future__ import annotations

import sys

from contract.endpoints import INTEGRATIONS

for _path in INTEGRATIONS.values():
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
