import demistomock as demisto
import pytest
from CommonServerPython import DemistoException, EntryType
from MS365DefenderAddComment import add_comment, command_args

INCIDENT = {'CustomFields': {'microsoft365defenderid': 42}}


def test_add_comment_uses_the_incident_field(mocker):
    """Given an incident with its Defender ID, When the script runs, Then it calls the update command with the ID,
    the comment and the chosen instance."""
    execute = mocker.patch.object(demisto, 'executeCommand', return_value=[{'Type': EntryType.NOTE, 'Contents': {}}])
    result = add_comment({'comment': 'checked', 'instance_name': 'm365d'}, INCIDENT)
    execute.assert_called_once_with('microsoft-365-defender-incident-update',
                                    {'id': '42', 'comment': 'checked', 'using': 'm365d'})
    assert result.readable_output == 'Comment added to Microsoft Defender XDR incident 42.'


def test_add_comment_reports_a_failed_update(mocker):
    """Given the update command fails, When the script runs, Then its error is raised with the command's message."""
    mocker.patch.object(demisto, 'executeCommand',
                        return_value=[{'Type': EntryType.ERROR, 'Contents': 'Incident 42 was not found.'}])
    with pytest.raises(DemistoException, match='Incident 42 was not found.'):
        add_comment({'comment': 'checked'}, INCIDENT)


@pytest.mark.parametrize('args, incident, message', [
    ({'comment': 'x'}, {}, 'No Microsoft 365 Defender incident ID'),
    ({'comment': ' '}, INCIDENT, 'The comment argument is empty'),
])
def test_command_args_errors(args, incident, message):
    """Given no incident ID or an empty comment, When building the command, Then a clear error."""
    with pytest.raises(DemistoException, match=message):
        command_args(args, incident)


def test_command_args_explicit_id():
    """Given an id argument, When building the command, Then it wins over the incident field."""
    assert command_args({'comment': 'c', 'id': '7'}, INCIDENT) == {'id': '7', 'comment': 'c'}
