"""The reputation commands on the oldest CommonServerPython the packs allow (Base 1.38.0, pack_metadata.json).

Our CommonServerPython follows the current Base; a customer may run an older one. Its indicator classes take a fixed
list of keyword arguments and raise ``TypeError`` on any other. These tests swap the classes the integrations build
for ones that accept exactly the arguments of the oldest allowed Base (the names below are facts about the real
library: the ``Common.IP`` parameters of the CommonServerPython that Palo Alto's content CI/CD template shipped in
November 2024, plus ``ip_type``, added in Base 1.38.0) and run the commands: they must succeed, without the fields
that Base does not have.
"""
from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from CommonServerPython import Common

ROOT = Path(__file__).resolve().parents[2]
MDTI_DIR = ROOT / 'Packs/MicrosoftDefenderThreatIntelligence/Integrations/MicrosoftDefenderThreatIntelligence'
sys.path.insert(0, str(MDTI_DIR))
import MicrosoftDefenderThreatIntelligence as mdti  # noqa: E402

BASE = 'https://graph.microsoft.com/v1.0/security/threatIntelligence'
PARAMS = {'app_id': 'app-id', 'tenant_id': 'tenant-id', 'client_credentials': True,
          'credentials': {'password': 'secret-value'}}
RELIABILITY = 'B - Usually reliable'

# Common.IP optional parameters on the oldest allowed Base (no prevalence, no first/last seen by source).
OLDEST_IP_PARAMS = (
    'asn', 'as_owner', 'region', 'port', 'internal', 'updated_date', 'registrar_abuse_name', 'registrar_abuse_address',
    'registrar_abuse_country', 'registrar_abuse_network', 'registrar_abuse_phone', 'registrar_abuse_email', 'campaign',
    'traffic_light_protocol', 'community_notes', 'publications', 'threat_types', 'hostname', 'geo_latitude',
    'geo_longitude', 'geo_country', 'geo_description', 'detection_engines', 'positive_engines', 'organization_name',
    'organization_type', 'feed_related_indicators', 'tags', 'malware_family', 'relationships', 'blocked', 'description',
    'stix_id', 'whois_records', 'ip_type',
)
# Fields that arrived in Common.Domain after the oldest allowed Base.
NEWER_DOMAIN_PARAMS = ('organization_prevalence', 'global_prevalence', 'organization_first_seen',
                       'organization_last_seen', 'first_seen_by_source', 'last_seen_by_source')


def restricted(cls: type, first: str, allowed: tuple[str, ...]) -> type:
    """A subclass of ``cls`` whose constructor declares (and accepts) exactly ``allowed``, like a real older class."""

    class Older(cls):  # type: ignore[valid-type, misc]
        def __init__(self, value: Any, dbot_score: Any, **fields: Any) -> None:
            unknown = sorted(set(fields) - set(allowed))
            if unknown:
                raise TypeError(f"__init__() got an unexpected keyword argument '{unknown[0]}'")
            super().__init__(value, dbot_score, **fields)

    keyword = inspect.Parameter.POSITIONAL_OR_KEYWORD
    Older.__init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(name, keyword) for name in ('self', first, 'dbot_score')]
        + [inspect.Parameter(name, keyword, default=None) for name in allowed])
    Older.__name__ = cls.__name__
    return Older


def domain_params() -> tuple[str, ...]:
    current = [name for name in inspect.signature(Common.Domain.__init__).parameters
               if name not in ('self', 'domain', 'dbot_score', 'fields')]
    return tuple(name for name in current or mdti_domain_fields() if name not in NEWER_DOMAIN_PARAMS)


def mdti_domain_fields() -> list[str]:
    """The stand-in may take **fields: then its declared field list stands for the signature."""
    return list(getattr(Common.Domain, '_FIELDS', ()))


@pytest.fixture
def oldest_base(monkeypatch):
    """The integration's Common.IP and Common.Domain as on the oldest allowed Base."""
    monkeypatch.setattr(Common, 'IP', restricted(Common.IP, 'ip', OLDEST_IP_PARAMS))
    monkeypatch.setattr(Common, 'Domain', restricted(Common.Domain, 'domain', domain_params()))


@pytest.fixture
def client(mocker):
    mocker.patch.object(mdti.TokenProvider, 'get_token', return_value='token')
    return mdti.build_client(PARAMS)


def load(name: str) -> Any:
    return json.loads((MDTI_DIR / 'test_data' / name).read_text())


def test_restricted_class_rejects_newer_fields(oldest_base):
    """Pins Common.IP.__init__ (oldest allowed Base): first_seen_by_source is not a parameter there."""
    dbot = Common.DBotScore('192.0.2.1', 'ip', 'X', 0)
    with pytest.raises(TypeError):
        Common.IP('192.0.2.1', dbot, first_seen_by_source='2024-01-01')


def test_mdti_ip_on_oldest_base(oldest_base, client, requests_mock):
    """Given the oldest allowed Base, When !ip runs on a known host, Then it succeeds with the IP context the older
    class can express (ASN, Geo, Organization) and no FirstSeenBySource."""
    requests_mock.get(f'{BASE}/hosts/203.0.113.66/reputation', json=load('reputation_ip_malicious.json'))
    requests_mock.get(f'{BASE}/hosts/203.0.113.66', json=load('host_ip.json'))
    [result] = mdti.ip_command(client, {'ip': '203.0.113.66'}, RELIABILITY)
    ip = result.to_context()['EntryContext']['IP(val.Address && val.Address == obj.Address)'][0]
    assert ip['ASN'] == 'AS64500' and ip['Geo']['Country'] == 'NL'
    assert 'FirstSeenBySource' not in ip and 'LastSeenBySource' not in ip


def test_mdti_ip_on_current_base_keeps_seen_dates(client, requests_mock):
    """Given the current Base, When !ip runs, Then the host's first/last seen dates reach the IP context."""
    requests_mock.get(f'{BASE}/hosts/203.0.113.66/reputation', json=load('reputation_ip_malicious.json'))
    requests_mock.get(f'{BASE}/hosts/203.0.113.66', json=load('host_ip.json'))
    [result] = mdti.ip_command(client, {'ip': '203.0.113.66'}, RELIABILITY)
    ip = result.to_context()['EntryContext']['IP(val.Address && val.Address == obj.Address)'][0]
    assert ip.get('FirstSeenBySource') == load('host_ip.json').get('firstSeenDateTime')


def test_mdti_domain_on_oldest_base(oldest_base, client, requests_mock):
    """Given the oldest allowed Base, When !domain runs, Then the Domain context with WHOIS is built."""
    requests_mock.get(f'{BASE}/hosts/fake-malicious.site/reputation', json=load('reputation_malicious.json'))
    requests_mock.get(f'{BASE}/hosts/fake-malicious.site/whois', json=load('whois.json'))
    requests_mock.get(f'{BASE}/hosts/fake-malicious.site/passiveDns', json=load('passive_dns.json'))
    [result] = mdti.domain_command(client, {'domain': 'fake-malicious.site'}, RELIABILITY)
    domain = result.to_context()['EntryContext']['Domain(val.Name && val.Name == obj.Name)'][0]
    assert domain['WHOIS']['Registrar']['Name'] == 'Namecheap, Inc.'
