"""Defender for Endpoint vulnerability management routes: shapes, OData support as documented, 404s, permissions,
and data that agrees across the routes and with the seeded machines."""
from __future__ import annotations

import pytest
import requests

from microsoft_emulator.testing import MDE, NO_PERMISSIONS_APP_ID, NO_PERMISSIONS_APP_SECRET, access_token, admin

SOFTWARE_KEYS = ['id', 'name', 'vendor', 'weaknesses', 'publicExploit', 'activeAlert', 'exposedMachines',
                 'impactScore']
VULNERABILITY_KEYS = ['id', 'name', 'description', 'severity', 'cvssV3', 'cvssVector', 'exposedMachines',
                      'publishedOn', 'updatedOn', 'firstDetected', 'publicExploit', 'exploitVerified', 'exploitInKit',
                      'exploitTypes', 'exploitUris', 'cveSupportability', 'epss']
FINDING_KEYS = ['id', 'cveId', 'machineId', 'fixingKbId', 'productName', 'productVendor', 'productVersion',
                'severity']


@pytest.fixture(scope='module')
def token(emulator):
    return access_token(emulator.url, scope=f'{MDE}/.default')


@pytest.fixture
def api(emulator, emulator_reset, token):
    def call(path, token_=None, **params):
        return requests.get(f'{emulator.url}{path}', params=params or None, timeout=30,
                            headers={'Authorization': f'Bearer {token_ or token}'})
    return call


def test_software_list_and_filters(api, emulator):
    body = api('/api/Software').json()
    assert body['@odata.context'] == f'{emulator.url}/api/$metadata#Software'
    assert list(body['value'][0]) == SOFTWARE_KEYS
    chrome = api('/api/Software', **{'$filter': "vendor eq 'google' or id eq 'mozilla-_-firefox'"}).json()['value']
    assert {s['id'] for s in chrome} == {'google-_-chrome', 'mozilla-_-firefox'}
    quoted = api('/api/Software', **{'$filter': "name eq 'admin''s_toolkit'"}).json()['value']
    assert [s['id'] for s in quoted] == ["contoso-_-admin's_toolkit"]
    paged = api('/api/Software', **{'$top': '2', '$skip': '1'}).json()
    assert [s['id'] for s in paged['value']] == [s['id'] for s in body['value'][1:3]] and '@odata.nextLink' in paged


def test_odata_limits(api):
    assert api('/api/Software', **{'$filter': "weaknesses gt 1"}).status_code == 400      # not a filterable property
    assert api('/api/vulnerabilities', **{'$top': '10001'}).status_code == 400
    assert api('/api/vulnerabilities', **{'$filter': "cvssV3 ge 'high'"}).status_code == 400


def test_software_sub_resources_agree(api):
    software = api('/api/Software/google-_-chrome').json()
    assert list(software)[1:] == SOFTWARE_KEYS
    refs = api('/api/Software/google-_-chrome/machineReferences').json()['value']
    assert list(refs[0]) == ['id', 'computerDnsName', 'osPlatform', 'rbacGroupName', 'rbacGroupId']
    versions = api('/api/Software/google-_-chrome/distributions').json()['value']
    assert sum(v['installations'] for v in versions) == len(refs)
    vulns = api('/api/Software/google-_-chrome/vulnerabilities').json()['value']
    assert len(vulns) == software['weaknesses'] and list(vulns[0]) == VULNERABILITY_KEYS
    kbs = api('/api/Software/microsoft-_-windows_11/getmissingkbs').json()['value']
    assert list(kbs[0]) == ['id', 'name', 'osBuild', 'productsNames', 'url', 'machineMissedOn', 'cveAddressed']


def test_vulnerabilities_filters_and_exposure(api):
    recent = api('/api/vulnerabilities', **{'$filter': 'publishedOn ge 2024-07-01T00:00:00Z and cvssV3 ge 7.5'})
    values = recent.json()['value']
    assert values and all(v['cvssV3'] >= 7.5 and v['publishedOn'] >= '2024-07-01' for v in values)
    texts = api('/api/vulnerabilities', **{'$filter': "contains(description,'sandbox')"}).json()['value']
    assert [v['id'] for v in texts] == ['CVE-2024-4671']
    one = api('/api/vulnerabilities/cve-2024-4671').json()
    machines = api('/api/vulnerabilities/CVE-2024-4671/machineReferences').json()['value']
    assert one['id'] == 'CVE-2024-4671' and one['exposedMachines'] == len(machines)
    findings = api('/api/vulnerabilities/machinesVulnerabilities',
                   **{'$filter': "cveId eq 'CVE-2024-4671'"}).json()['value']
    assert list(findings[0]) == FINDING_KEYS and {f['machineId'] for f in findings} == {m['id'] for m in machines}


def test_per_machine_routes_agree(api, emulator):
    machine = admin(emulator.url, 'GET', '/mde/machines')[0]
    installed = api(f"/api/machines/{machine['id']}/software").json()['value']
    assert installed and list(installed[0]) == SOFTWARE_KEYS
    vulns = {v['id'] for v in api(f"/api/machines/{machine['id']}/vulnerabilities").json()['value']}
    findings = api('/api/vulnerabilities/machinesVulnerabilities',
                   **{'$filter': f"machineId eq '{machine['id']}'"}).json()['value']
    assert vulns == {f['cveId'] for f in findings}
    kbs = api(f"/api/machines/{machine['id']}/getmissingkbs").json()['value']
    assert {k['id'] for k in kbs} == {f['fixingKbId'] for f in findings if f['fixingKbId']}
    assert all(k['machineMissedOn'] == 1 for k in kbs)


@pytest.mark.parametrize('path,message', [
    ('/api/Software/nobody-_-nothing', 'Software nobody-_-nothing was not found'),
    ('/api/Software/nobody-_-nothing/distributions', 'Software nobody-_-nothing was not found'),
    ('/api/vulnerabilities/CVE-2099-0001', 'Vulnerability CVE-2099-0001 was not found'),
    ('/api/vulnerabilities/CVE-2099-0001/machineReferences', 'Vulnerability CVE-2099-0001 was not found'),
    ('/api/machines/unknown/software', 'Machine unknown was not found'),
])
def test_unknown_ids(api, path, message):
    response = api(path)
    assert response.status_code == 404
    assert response.json()['error']['code'] == 'ResourceNotFound' and response.json()['error']['message'] == message


def test_permissions(api, emulator):
    weak = access_token(emulator.url, client_id=NO_PERMISSIONS_APP_ID, secret=NO_PERMISSIONS_APP_SECRET,
                        scope=f'{MDE}/.default')
    for path, role in [('/api/Software', 'Software.Read.All'), ('/api/vulnerabilities', 'Vulnerability.Read.All'),
                       ('/api/vulnerabilities/machinesVulnerabilities', 'Vulnerability.Read.All'),
                       ('/api/Software/google-_-chrome/vulnerabilities', 'Vulnerability.Read.All')]:
        response = api(path, token_=weak)
        assert response.status_code == 403 and role in response.json()['error']['message'], path
