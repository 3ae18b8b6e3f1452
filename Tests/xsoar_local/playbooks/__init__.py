"""Playbooks run locally: ``xsoar-local playbook run`` executes a playbook YAML against integrations run through
xsoar-local (see engine.py for the constructs and README's xsoar-local section for the supported set)."""
from .engine import PlaybookResult, Session, TaskRecord, run_playbook
from .library import Playbook, PlaybookLibrary, load_playbook
from .values import PlaybookError

__all__ = ['Playbook', 'PlaybookError', 'PlaybookLibrary', 'PlaybookResult', 'Session', 'TaskRecord', 'load_playbook',
           'run_playbook']
