"""More Defender for Endpoint playbooks run with ``xsoar-local playbook run`` against the emulator: the investigation
actions (*MDE - Pro-Active Actions*), the malware incident enrichment and the SIEM ingestion.

The runner and the fixtures are those of ``test_e2e_pack_playbooks.py``: each case runs the CLI on its own state
home, and checks the playbook's outputs and the incident it leaves against the emulator's ground truth (machine
actions, alerts, machines).
"""
from __future__ import annotations

import json
import subprocess

import pytest
import test_e2e_pack_playbooks as pack_playbooks
from e2e_runtime import as_list
from test_e2e_pack_playbooks import failures, file_entries, machines, no_failures

from microsoft_emulator.testing import admin

pytestmark = pytest.mark.e2e

# The fixtures of the pack playbook cases: a runner of `xsoar-local playbook run` on its own state home, and the
# Defender for Endpoint store back to its seed with fast machine actions.
playbook = pack_playbooks.playbook
mde = pack_playbooks.mde

MDE = 'MicrosoftDefenderAdvancedThreatProtection'


def active_machines(mde, count: int) -> list[dict]:
    found = [m for m in machines(mde) if m['healthStatus'] == 'Active' and not m['broken']][:count]
    assert len(found) == count
    return found


def action_types(mde, machine_id: str) -> list[str]:
    url, ca = mde
    return sorted(a['type'] for a in admin(url, 'GET', '/mde/actions', verify=ca) if a['machineId'] == machine_id)


def new_alert(mde, machine_id: str, **fields) -> dict:
    """An alert raised now on the machine (the emulator's admin route), with the fields given."""
    url, ca = mde
    return admin(url, 'POST', '/mde/alerts', verify=ca, json={'machineId': machine_id, 'status': 'New', **fields})


def notes(result: dict) -> list[str]:
    return [str(e.get('Contents')) for e in result['war_room'] if isinstance(e, dict)]


def ran(result: dict, playbook_name: str) -> set[str]:
    return {t['name'] for t in result['tasks'] if t['playbook'] == playbook_name and t['state'] == 'completed'}


# ---- MDE - Pro-Active Actions -------------------------------------------------------------------------------------

def test_pro_active_actions_runs_every_action_on_each_machine(playbook, mde):
    """Given two machines and no Task (the Auto* inputs at their default True), When Pro-Active Actions runs, Then
    each machine gets a full scan that finished, an investigation package collected and downloaded, and an automated
    investigation."""
    first, second = active_machines(mde, 2)
    result = no_failures(playbook('MDE - Pro-Active Actions', EndpointsID=f'{first["id"]}, {second["id"]}'))
    for target in (first, second):
        assert action_types(mde, target['id']) == ['CollectInvestigationPackage', 'RunAntiVirusScan']
    out = result['outputs']
    assert len(as_list(out['MicrosoftATP.MachineAction.ID'])) == 4      # a scan and a collection per machine
    assert set(as_list(out['MicrosoftATP.MachineAction.Status'])) == {'Succeeded'}
    assert len(file_entries(result)) == 2
    started = as_list(result['context']['MicrosoftATP']['Investigation'])
    assert {i['MachineID'] for i in started} == {first['id'], second['id']}
    assert len(as_list(out['MicrosoftATP.Investigation.ID'])) == 2
    listed = as_list(playbook.command(MDE, 'microsoft-atp-list-investigations', 'limit=100')['MicrosoftATP']
                     ['Investigation'])
    assert set(as_list(out['MicrosoftATP.Investigation.ID'])) <= {i['ID'] for i in listed}


def test_pro_active_actions_follows_task_and_auto_switches(playbook, mde):
    """Given Task naming the scan and the automated investigation, with AutoAutomatedInvestigation False, When the
    playbook runs, Then only the scan runs (no package, no investigation: it would have needed an approval), and
    the War Room says what was asked for."""
    [target] = active_machines(mde, 1)
    result = no_failures(playbook('MDE - Pro-Active Actions', EndpointsID=target['id'],
                                  Task='Full Scan,Automated Investigation', AutoAutomatedInvestigation='False'))
    assert action_types(mde, target['id']) == ['RunAntiVirusScan']
    assert 'Investigation' not in result['context'].get('MicrosoftATP', {})
    assert not file_entries(result)
    assert any('Task=Full Scan,Automated Investigation' in n and 'AutoAutomatedInvestigation=False' in n
               for n in notes(result))


def test_pro_active_actions_without_machines_does_nothing(playbook, mde):
    """Given no EndpointsID, When the playbook runs, Then no action is requested."""
    url, ca = mde
    before = len(admin(url, 'GET', '/mde/actions', verify=ca))
    no_failures(playbook('MDE - Pro-Active Actions'))
    assert len(admin(url, 'GET', '/mde/actions', verify=ca)) == before


# ---- MDE Malware - Incident Enrichment ----------------------------------------------------------------------------

def test_incident_enrichment_of_a_defender_alert(playbook, mde):
    """Given an incident fetched from Defender for Endpoint (its Alert ID only), When the enrichment runs, Then the
    incident gets the alert's machine, MITRE techniques, files and user, the machine's details, and the files are
    read; the MITRE ATT&CK outputs stay empty (another pack's job)."""
    [target] = active_machines(mde, 1)
    alert = new_alert(mde, target['id'], mitreTechniques=['T1059.001', 'T1105'])
    files = [e for e in alert['evidence'] if e['entityType'] == 'File']
    result = no_failures(playbook('MDE Malware - Incident Enrichment',
                                  incident={'id': '51', 'name': 'Malware', 'CustomFields': {'alertid': alert['id']}}))
    fields = result['incident']['CustomFields']
    assert fields['agentsid'] == [target['id']]
    assert fields['mitretechniqueid'] == ['T1059.001', 'T1105']
    assert fields['filesha1'] == [files[0]['sha1']] and fields['filesha256'] == [files[0]['sha256']]
    assert fields['username'] == [alert['relatedUser']['userName']]
    assert fields['deviceid'] == [target['id']] and fields['devicename'] == [target['computerDnsName']]
    assert fields['devicelocalip'] and fields['deviceosname']
    out = result['outputs']
    assert out['MicrosoftATP.Alert']['ID'] == alert['id']
    assert out['Endpoint']['ID'] == target['id']
    assert {f['Sha256'] for f in as_list(out['MicrosoftATP.File'])} == {files[0]['sha256']}
    assert out['MITREATTACK'] is None and out['AttackPattern'] is None


def test_incident_enrichment_of_a_siem_incident(playbook, mde):
    """Given an incident a SIEM created (DidAlertOriginateFromSIEM Yes) with the machine and a file hash in its
    fields, When the enrichment runs, Then the alert is not read, and the machine and the file are."""
    [target] = active_machines(mde, 1)
    sha256 = new_alert(mde, target['id'])['evidence'][0]['sha256']
    incident = {'id': '52', 'name': 'From the SIEM', 'CustomFields': {'agentsid': target['id'], 'filesha256': sha256}}
    result = no_failures(playbook('MDE Malware - Incident Enrichment', incident=incident,
                                  DidAlertOriginateFromSIEM='Yes'))
    assert 'Get the alert' not in ran(result, 'MDE Malware - Incident Enrichment')
    assert result['outputs']['MicrosoftATP.Alert'] is None
    assert result['incident']['CustomFields']['devicename'] == [target['computerDnsName']]
    assert as_list(result['outputs']['MicrosoftATP.File'])[0]['Sha256'] == sha256


# ---- MDE SIEM ingestion - Get Incident Data -----------------------------------------------------------------------

def siem_incident(alert_id: str) -> dict:
    return {'id': '61', 'name': 'From the SIEM', 'severity': 1, 'CustomFields': {'externalsystemid': alert_id}}


def test_siem_ingestion_maps_the_alert_severity(playbook, mde):
    """Given a SIEM incident naming a Medium alert, When the ingestion runs with OverrideSIEMSeverity, Then the
    incident gets the alert ID, its machine and techniques, the machine is read, and the severity is 2 (Medium in
    the default scale)."""
    [target] = active_machines(mde, 1)
    alert = new_alert(mde, target['id'], severity='Medium', mitreTechniques=['T1566'])
    result = no_failures(playbook('MDE SIEM ingestion - Get Incident Data', incident=siem_incident(alert['id']),
                                  OverrideSIEMSeverity='True'))
    incident = result['incident']
    assert incident['severity'] == '2'
    assert incident['CustomFields']['alertid'] == alert['id'] and incident['CustomFields']['deviceid'] == target['id']
    assert incident['CustomFields']['mitretechniqueid'] == ['T1566']
    assert result['outputs']['Endpoint']['ID'] == target['id']
    assert result['outputs']['MicrosoftATP.Alert']['Severity'] == 'Medium'


def test_siem_ingestion_keeps_the_siem_severity_by_default(playbook, mde):
    """Given a High alert and a custom scale, When the ingestion runs without OverrideSIEMSeverity, Then the
    severity the SIEM gave stays; with it, the custom scale decides."""
    [target] = active_machines(mde, 1)
    alert = new_alert(mde, target['id'], severity='High')
    kept = no_failures(playbook('MDE SIEM ingestion - Get Incident Data', incident=siem_incident(alert['id'])))
    assert kept['incident']['severity'] == 1
    assert 'Set the severity' not in ran(kept, 'MDE SIEM ingestion - Get Incident Data')
    mapped = no_failures(playbook('MDE SIEM ingestion - Get Incident Data', incident=siem_incident(alert['id']),
                                  OverrideSIEMSeverity='true', ScaleToSetSeverity='Low,Medium,High',
                                  SeverityValuesMapping='1,2,4'))
    assert mapped['incident']['severity'] == '4'


def test_siem_ingestion_of_an_unknown_alert_fails(playbook, mde):
    """Given an alert ID Defender does not know, When the ingestion runs, Then it stops at reading the alert and says
    which alert."""
    argv = playbook.argv('MDE SIEM ingestion - Get Incident Data', siem_incident('da000000000000000000_1'), {})
    done = subprocess.run(argv, env=playbook.env, capture_output=True, text=True, timeout=600, check=False)
    result = json.loads(done.stdout)
    assert done.returncode == 1 and result['state'] == 'failed'
    assert 'da000000000000000000_1' in result['error'] and 'Get the alert' in result['error']
    assert not failures(result) or all(name == 'Get the alert' for _, name in failures(result))
