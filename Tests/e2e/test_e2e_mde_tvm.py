"""Microsoft Defender for Endpoint vulnerability management end to end: every TVM command through xsoar-local
(--strict) against the emulator over HTTPS, the context checked against the YAML, the numbers cross-checked between
commands, OData values with quotes, bad input and a missing permission."""
from __future__ import annotations

import pytest
from e2e_runtime import as_list, ok

from microsoft_emulator.testing import admin

pytestmark = pytest.mark.e2e

INTEGRATION = 'MicrosoftDefenderAdvancedThreatProtection'
P = 'microsoft-atp'


@pytest.fixture
def tvm(e2e_emulator, local_run):
    url, ca = e2e_emulator.url, str(e2e_emulator.ca_path)
    admin(url, 'POST', '/mde/reset', verify=ca)
    run = local_run(INTEGRATION)
    return run, run.instance('client-secret'), admin(url, 'GET', '/mde/machines', verify=ca)


def test_software_commands(tvm):
    """Given the seeded inventory, When the software commands run, Then each writes its declared context and the
    counts agree: installations add up to the machines listed for the software."""
    run, instance, _ = tvm
    software = as_list(ok(run.run(instance, f'{P}-list-software', vendor='google,mozilla', limit='10'))
                       .context['MicrosoftATP']['Software'])
    assert {s['vendor'] for s in software} <= {'google', 'mozilla'} and any(s['id'] == 'google-_-chrome'
                                                                           for s in software)
    machines = as_list(ok(run.run(instance, f'{P}-list-machines-by-software', id='google-_-chrome'))
                       .context['MicrosoftATP']['SoftwareMachine'])
    versions = as_list(ok(run.run(instance, f'{P}-list-software-version-distribution', id='google-_-chrome'))
                       .context['MicrosoftATP']['SoftwareVersion'])
    assert sum(v['installations'] for v in versions) == len(machines)
    assert all(m['softwareId'] == 'google-_-chrome' for m in machines)
    kbs = as_list(ok(run.run(instance, f'{P}-list-missing-kb-by-software', id='microsoft-_-windows_11'))
                  .context['MicrosoftATP']['SoftwareKB'])
    assert kbs[0]['id'] == '5040442' and kbs[0]['machineMissedOn'] > 0
    cves = ok(run.run(instance, f'{P}-list-vulnerabilities-by-software', id='google-_-chrome'))
    assert {c['id'] for c in as_list(cves.context['MicrosoftATP']['SoftwareCVE'])} == {'CVE-2024-4671',
                                                                                      'CVE-2024-6772'}
    assert {c['ID'] for c in as_list(cves.context['CVE'])} == {'CVE-2024-4671', 'CVE-2024-6772'}


def test_quoted_values_stay_literals(tvm):
    """Given a software ID holding a quote, When it is a filter value, Then exactly that software matches; a value
    trying to add an OData clause matches nothing instead."""
    run, instance, _ = tvm
    found = ok(run.run(instance, f'{P}-list-software', id="contoso-_-admin's_toolkit"))
    assert [s['name'] for s in as_list(found.context['MicrosoftATP']['Software'])] == ["admin's_toolkit"]
    injected = ok(run.run(instance, f'{P}-list-software', name="chrome' or name ne 'x"))
    assert not (injected.context or {}).get('MicrosoftATP')
    vulns = ok(run.run(instance, f'{P}-list-vulnerabilities-by-software', id="contoso-_-admin's_toolkit"))
    assert as_list(vulns.context['MicrosoftATP']['SoftwareCVE'])[0]['id'] == 'CVE-2024-29041'


def test_vulnerability_commands_agree(tvm):
    """Given the seeded vulnerabilities, When they are listed, filtered and expanded to machines, Then the machine
    counts agree with exposedMachines and with the per-machine findings."""
    run, instance, _ = tvm
    listed = ok(run.run(instance, f'{P}-list-vulnerabilities', cvss='9', published_on='2024-05-01', limit='5'))
    critical = as_list(listed.context['MicrosoftATP']['Vulnerability'])
    assert critical and all(v['cvssV3'] >= 9 for v in critical)
    target = critical[0]
    exposed = as_list(ok(run.run(instance, f'{P}-list-machines-by-vulnerability', cve_id=target['id']))
                      .context['MicrosoftATP']['CveMachine'])
    assert len(exposed) == target['exposedMachines'] and all(m['CVE'] == [target['id']] for m in exposed)
    findings = as_list(ok(run.run(instance, f'{P}-list-vulnerabilities-by-machine', cve_id=target['id'],
                                  limit='100')).context['MicrosoftATP']['MachineCVE'])
    assert {f['machineId'] for f in findings} == {m['ID'] for m in exposed}
    texts = ok(run.run(instance, f'{P}-list-vulnerabilities', description_contains='sandbox',
                       severity='Critical,High', updated_on='2024-01-01T00:00:00Z'))
    assert [v['id'] for v in as_list(texts.context['MicrosoftATP']['Vulnerability'])] == ['CVE-2024-4671']
    paged = ok(run.run(instance, f'{P}-list-vulnerabilities-by-machine', severity='High', limit='2', offset='1'))
    assert len(as_list(paged.context['MicrosoftATP']['MachineCVE'])) == 2


def test_per_machine_commands(tvm):
    """Given a seeded machine, When its software, missing KBs and vulnerabilities are read, Then they match the
    organization-wide findings for that machine."""
    run, instance, machines = tvm
    machine_id = machines[0]['id']
    software = as_list(ok(run.run(instance, f'{P}-get-machine-software', machine_id=machine_id))
                       .context['MicrosoftATP']['MachineSoftware'])
    assert software and all(s['machineId'] == machine_id for s in software)
    vulns = ok(run.run(instance, f'{P}-get-machine-vulnerabilities', machine_id=machine_id))
    by_machine = as_list(ok(run.run(instance, f'{P}-list-vulnerabilities-by-machine', machine_id=machine_id,
                                    limit='100')).context['MicrosoftATP']['MachineCVE'])
    mine = as_list(vulns.context['MicrosoftATP']['MachineVulnerability'])
    assert {v['id'] for v in mine} == {f['cveId'] for f in by_machine}
    kbs = ok(run.run(instance, f'{P}-get-machine-missing-kbs', machine_id=machine_id))
    expected = {f['fixingKbId'] for f in by_machine if f.get('fixingKbId')}
    got = {k['id'] for k in as_list((kbs.context.get('MicrosoftATP') or {}).get('MachineMissingKB') or [])}
    assert got == expected


def test_generated_machines_get_an_inventory(tvm, e2e_emulator):
    """Given machines added through the admin API, When their software is read, Then they have an inventory too."""
    run, instance, before = tvm
    url, ca = e2e_emulator.url, str(e2e_emulator.ca_path)
    admin(url, 'POST', '/mde/generate', verify=ca, json={'machines': 2})
    new = [m for m in admin(url, 'GET', '/mde/machines', verify=ca) if m['id'] not in {b['id'] for b in before}]
    assert len(new) == 2
    ok(run.run(instance, f'{P}-get-machine-software', machine_id=new[0]['id']))


def test_unknown_ids_are_clear_errors(tvm):
    """Given unknown software, machine and CVE IDs, When they are read, Then Microsoft's 404 message is the error;
    with a known CVE next to an unknown one, the known one is still reported."""
    run, instance, _ = tvm
    result = run.run(instance, f'{P}-list-vulnerabilities-by-software', id='nobody-_-nothing')
    assert result.has_error and 'Software nobody-_-nothing was not found' in result.errors[0]
    result = run.run(instance, f'{P}-get-machine-missing-kbs', machine_id='0' * 40)
    assert result.has_error and 'was not found' in result.errors[0]
    mixed = run.run(instance, f'{P}-list-machines-by-vulnerability', cve_id='CVE-2024-4671,CVE-2099-0001')
    assert mixed.problems == [] and mixed.context['MicrosoftATP']['CveMachine']
    assert any('CVE-2099-0001' in e for e in mixed.errors)


@pytest.mark.parametrize('command,args,message', [
    ('list-vulnerabilities', {'cvss': '12'}, 'Invalid "cvss": "12"'),
    ('list-vulnerabilities', {'published_on': 'whenever'}, 'Invalid "published_on": "whenever"'),
    ('list-vulnerabilities', {'severity': 'Severe'}, 'Invalid "severity": "Severe"'),
    ('list-vulnerabilities-by-machine', {'software_id': 'chrome'}, 'Invalid "software_id": "chrome"'),
    ('list-vulnerabilities-by-machine', {'limit': '0'}, 'Invalid "limit": "0"'),
    ('list-machines-by-vulnerability', {'cve_id': 'log4shell'}, 'Invalid "cve_id": "log4shell"'),
    ('list-software', {'offset': 'x'}, 'Invalid "offset": "x"'),
])
def test_bad_input_is_a_clear_error(tvm, command, args, message):
    """Given a bad argument, When the command runs, Then the error names it, with no traceback."""
    run, instance, _ = tvm
    result = run.run(instance, f'{P}-{command}', **args)
    assert result.has_error and message in result.errors[0] and 'Traceback' not in result.errors[0]


def test_missing_permission_is_reported(tvm):
    """Given an app without Software.Read.All, When the inventory is read, Then Microsoft's 403 names the role."""
    run, _, _ = tvm
    result = run.run(run.instance('certificate'), f'{P}-list-software')
    assert result.has_error and 'Software.Read.All' in result.errors[0]
