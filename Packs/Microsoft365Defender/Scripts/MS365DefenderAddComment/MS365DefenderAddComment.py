"""Adds a comment to the Microsoft Defender XDR incident behind the current Cortex XSOAR incident.

Meant for the button of the Microsoft 365 Defender layout: the incident ID comes from the incident's
Microsoft 365 Defender ID field unless one is given, and the comment goes out through
microsoft-365-defender-incident-update, so it is written exactly as a war-room command would write it.
"""
from typing import Any

import demistomock as demisto
from CommonServerPython import *  # noqa: F401,F403

COMMAND = 'microsoft-365-defender-incident-update'


def incident_id(args: dict[str, Any], incident: dict[str, Any]) -> str:
    """The Defender XDR incident ID: the argument, else the incident's field; a clear error when neither is set."""
    value = args.get('id') or (incident.get('CustomFields') or {}).get('microsoft365defenderid')
    if value in (None, ''):
        raise DemistoException('No Microsoft 365 Defender incident ID: run the script inside a Microsoft 365 '
                               'Defender incident, or pass the id argument.')
    return str(value).split('.')[0] if isinstance(value, float) else str(value)


def command_args(args: dict[str, Any], incident: dict[str, Any]) -> dict[str, Any]:
    """The arguments of the update command; 'using' selects one instance when instance_name is given."""
    comment = str(args.get('comment') or '').strip()
    if not comment:
        raise DemistoException('The comment argument is empty: nothing to add.')
    update = {'id': incident_id(args, incident), 'comment': comment}
    if args.get('instance_name'):
        update['using'] = args['instance_name']
    return update


def add_comment(args: dict[str, Any], incident: dict[str, Any]) -> CommandResults:
    update = command_args(args, incident)
    results = demisto.executeCommand(COMMAND, update)
    failures = [get_error(entry) for entry in results or [] if is_error(entry)]
    if failures:
        raise DemistoException(f'Microsoft Defender XDR did not accept the comment: {"; ".join(failures)}')
    return CommandResults(readable_output=f'Comment added to Microsoft Defender XDR incident {update["id"]}.')


def main() -> None:  # pragma: no cover - exercised through the tests of add_comment
    try:
        return_results(add_comment(demisto.args(), demisto.incident()))
    except Exception as error:
        return_error(f'MS365DefenderAddComment failed: {error}')


if __name__ in ('__main__', '__builtin__', 'builtins'):
    main()
