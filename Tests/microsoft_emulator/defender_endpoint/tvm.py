"""Defender Vulnerability Management (TVM) routes of the Defender for Endpoint API: the software inventory, its
version distributions, machine references and missing KBs, the vulnerability catalogue, and the per-machine views.

The data is derived, on each request, from the machines in the MDE store (seeded or generated): a fixed catalogue
of software and CVEs, and for every machine the software its platform runs, a version chosen by a hash of the
machine's index in the store, and the CVEs that version carries. So machines added through the admin API get an
inventory too, and every count (exposedMachines, installations, machineMissedOn...) agrees with the per-machine
records.

OData follows the documented support: ``$filter`` on id/name/vendor for ``/api/Software``; on id, name,
description, cvssV3, publishedOn, updatedOn and severity for ``/api/vulnerabilities``; on id, cveId, machineId,
fixingKbId, productName, productVersion, severity and productVendor for ``machinesVulnerabilities``; ``$top`` (at
most 10,000) and ``$skip`` on those three lists. The sub-resources return their whole collection. Permissions:
Software.Read.All for software, distributions, machine references of software and missing KBs; Vulnerability.Read.All
for everything about vulnerabilities (application roles; the delegated ``.Read`` scopes are accepted too).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..context import emulator_context
from ..core.api import ApiModule
from ..core.clock import parse_time
from ..core.http import defender_error
from ..core.ids import mix
from ..core.odata import ODataError, Prop
from ..ratelimits import MDE_DEFAULT
from ..tokens import Principal
from .common import format_times, odata_context, odata_error, page
from .instance import get_store
from .machines import machine_or_404
from .odata import parse_query
from .store import Machine, MdeStore

SOFTWARE_READ = ['Software.Read.All', 'Software.Read']
VULNERABILITY_READ = ['Vulnerability.Read.All', 'Vulnerability.Read']

module = ApiModule('defender_endpoint_tvm', host='mde', audiences=('mde',), error_style='defender',
                   rate_limits=list(MDE_DEFAULT))

WINDOWS = ('Windows10', 'Windows11', 'WindowsServer2019', 'WindowsServer2022')
DESKTOPS = ('Windows10', 'Windows11')


@dataclass(frozen=True)
class Product:
    vendor: str
    name: str
    platforms: tuple[str, ...]
    versions: tuple[str, ...]
    share: int = 100                 # percentage of eligible machines that have it
    active_alert: bool = False

    @property
    def id(self) -> str:
        return f'{self.vendor}-_-{self.name}'


PRODUCTS = [
    Product('microsoft', 'edge_chromium-based', WINDOWS, ('124.0.2478.80', '126.0.2592.87', '127.0.2651.74')),
    Product('google', 'chrome', (*DESKTOPS, 'macOS'), ('124.0.6367.91', '126.0.6478.127', '127.0.6533.89'), 70,
            active_alert=True),
    Product('mozilla', 'firefox', (*DESKTOPS, 'Linux', 'macOS'), ('115.12.0', '127.0.2'), 45),
    Product('microsoft', 'windows_11', ('Windows11',), ('22621', '22631')),
    Product('microsoft', 'windows_10', ('Windows10',), ('19044', '19045')),
    Product('microsoft', 'windows_server_2019', ('WindowsServer2019',), ('17763',)),
    Product('microsoft', 'windows_server_2022', ('WindowsServer2022',), ('20348',)),
    Product('microsoft', 'office', DESKTOPS, ('16.0.17531.20152', '16.0.17726.20160'), 80),
    Product('oracle', 'jre', (*WINDOWS, 'Linux'), ('1.8.0.401', '1.8.0.421'), 35),
    Product('openssl', 'openssl', ('Linux', 'macOS'), ('3.0.13', '3.0.14')),
    Product('apple', 'macos', ('macOS',), ('14.5',)),
    Product('canonical', 'ubuntu_linux', ('Linux',), ('22.04',)),
    Product('7-zip', '7-zip', WINDOWS, ('23.01', '24.07'), 50),
    Product('contoso', "admin's_toolkit", ('WindowsServer2019', 'WindowsServer2022'), ('2.4.1',)),
]
PRODUCT_BY_ID = {p.id: p for p in PRODUCTS}


@dataclass(frozen=True)
class Cve:
    id: str
    product: str                     # Product.id
    versions: tuple[str, ...]        # the affected versions
    severity: str
    cvss: float
    vector: str
    published: str
    updated: str
    description: str
    kb: str | None = None            # the fixing KB, for Microsoft updates
    exploit: tuple[str, ...] = ()    # exploit types; a public exploit when any
    verified: bool = False
    in_kit: bool = False
    epss: float = 0.01


NET_HIGH = 'CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H'
LOCAL_HIGH = 'CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H'
NET_MEDIUM = 'CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:N/A:N'

CVES = [
    Cve('CVE-2024-4671', 'google-_-chrome', ('124.0.6367.91',), 'Critical', 9.6, NET_HIGH, '2024-05-14', '2024-07-03',
        'A use-after-free in the browser visuals component lets a crafted web page escape the sandbox.',
        exploit=('RemoteCodeExecution',), verified=True, in_kit=True, epss=0.41),
    Cve('CVE-2024-6772', 'google-_-chrome', ('124.0.6367.91', '126.0.6478.127'), 'Medium', 6.5, NET_MEDIUM,
        '2024-07-16', '2024-07-25', 'An inappropriate implementation in navigation lets a remote site spoof the '
        "page's origin."),
    Cve('CVE-2024-5274', 'microsoft-_-edge_chromium-based', ('124.0.2478.80',), 'High', 8.8, NET_HIGH, '2024-05-28',
        '2024-06-10', "A type confusion in the JavaScript engine of the Chromium-based browser allows heap "
        'corruption from a crafted page.', exploit=('RemoteCodeExecution',), verified=True, epss=0.12),
    Cve('CVE-2024-38112', 'microsoft-_-windows_11', ('22621',), 'High', 7.5, NET_HIGH, '2024-07-09', '2024-07-18',
        'A spoofing flaw in the MSHTML platform lets an internet shortcut open a page in the legacy engine.',
        kb='5040442', exploit=('PrivilegeEscalation',), verified=True, epss=0.33),
    Cve('CVE-2024-38080', 'microsoft-_-windows_11', ('22621', '22631'), 'High', 7.8, LOCAL_HIGH, '2024-07-09',
        '2024-07-12', 'An integer overflow in the Hyper-V host lets a local user run code as SYSTEM.', kb='5040442',
        exploit=('PrivilegeEscalation',)),
    Cve('CVE-2024-30088', 'microsoft-_-windows_10', ('19044', '19045'), 'High', 7.0, LOCAL_HIGH, '2024-06-11',
        '2024-06-20', 'A race condition in the kernel lets a local user gain SYSTEM privileges.', kb='5039211',
        exploit=('PrivilegeEscalation',), in_kit=True),
    Cve('CVE-2024-43451', 'microsoft-_-windows_server_2019', ('17763',), 'Medium', 6.5, NET_MEDIUM, '2024-11-12',
        '2024-11-20', 'An NTLM hash disclosure happens when a user merely selects a crafted file.', kb='5046615'),
    Cve('CVE-2024-49112', 'microsoft-_-windows_server_2022', ('20348',), 'Critical', 9.8,
        'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', '2024-12-10', '2025-01-02',
        'An integer overflow in the LDAP client lets an unauthenticated attacker run code on a domain controller.',
        kb='5048654', exploit=('RemoteCodeExecution', 'DenialOfService'), verified=True, epss=0.6),
    Cve('CVE-2024-38021', 'microsoft-_-office', ('16.0.17531.20152',), 'High', 8.8, NET_HIGH, '2024-07-09',
        '2024-07-11', 'An improper input validation in Outlook lets a message run code when it is previewed.',
        kb='5002620'),
    Cve('CVE-2024-20932', 'oracle-_-jre', ('1.8.0.401',), 'High', 7.5, NET_HIGH, '2024-01-16', '2024-02-02',
        'A flaw in the Security component lets an unauthenticated remote attacker modify data.'),
    Cve('CVE-2024-5535', 'openssl-_-openssl', ('3.0.13',), 'Critical', 9.1,
        'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:H', '2024-06-27', '2024-07-12',
        'An empty protocol list in the next-protocol negotiation reads past a buffer.'),
    Cve('CVE-2024-11477', '7-zip-_-7-zip', ('23.01',), 'High', 7.8, LOCAL_HIGH, '2024-11-22', '2024-12-02',
        "An integer underflow in the Zstandard decompressor lets a crafted archive run code with the user's rights.",
        exploit=('RemoteCodeExecution',)),
    Cve('CVE-2024-29041', "contoso-_-admin's_toolkit", ('2.4.1',), 'Low', 3.1,
        'CVSS:3.1/AV:N/AC:H/PR:L/UI:R/S:U/C:L/I:N/A:N', '2024-03-25', '2024-04-02',
        "The toolkit's 'remember me' cookie is not bound to the session, so it can be replayed."),
]

# The KBs that fix the Microsoft CVEs above: (id, name, osBuild or None, product names).
KBS = {
    '5040442': ('July 2024 Security Updates', 22621, ['windows_11']),
    '5039211': ('June 2024 Security Updates', 19045, ['windows_10']),
    '5046615': ('November 2024 Security Updates', 17763, ['windows_server_2019']),
    '5048654': ('December 2024 Security Updates', 20348, ['windows_server_2022']),
    '5002620': ('July 2024 Security Updates for Office', None, ['office']),
}


def _cve_rows() -> dict[str, Cve]:
    return {cve.id: cve for cve in CVES}


@dataclass
class Inventory:
    """The TVM view of the store at one moment."""
    installs: dict[str, dict[str, str]] = field(default_factory=dict)     # machine id -> product id -> version
    machines: dict[str, Machine] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)          # machinesVulnerabilities records


_CACHE = '_tvm_inventory'


def inventory(store: MdeStore) -> Inventory:
    """The store's inventory, rebuilt only when the store changed (a 100,000-machine store takes seconds)."""
    with store.lock:
        key = (id(store.machines), store.version, len(store.machines))    # clear() makes a new dict
        cached = getattr(store, _CACHE, None)
        if cached is not None and cached[0] == key:
            return cached[1]
        view = build_inventory(list(store.machines.values()))
        setattr(store, _CACHE, (key, view))
        return view


def build_inventory(machines: list[Machine]) -> Inventory:
    view = Inventory()
    for index, machine in enumerate(machines):
        view.machines[machine.id] = machine
        installed: dict[str, str] = {}
        for n, product in enumerate(PRODUCTS):
            h = mix(index * 31 + n)
            if machine.os_platform in product.platforms and h % 100 < product.share:
                build = str(machine.os_build)     # an operating system's version is the machine's build
                installed[product.id] = build if build in product.versions else \
                    product.versions[(h >> 8) % len(product.versions)]
        view.installs[machine.id] = installed
        for cve in CVES:
            version = installed.get(cve.product)
            if version is not None and version in cve.versions:
                product = PRODUCT_BY_ID[cve.product]
                view.findings.append({
                    'id': f'{machine.id}-_-{cve.id}-_-{product.vendor}-_-{product.name}-_-{version}-_-{cve.kb or ""}',
                    'cveId': cve.id, 'machineId': machine.id, 'fixingKbId': cve.kb, 'productName': product.name,
                    'productVendor': product.vendor, 'productVersion': version, 'severity': cve.severity,
                })
    return view


def _exposed(view: Inventory, cve_id: str) -> list[str]:
    return list(dict.fromkeys(f['machineId'] for f in view.findings if f['cveId'] == cve_id))


def software_raw(view: Inventory, product: Product) -> dict[str, Any]:
    cves = [c for c in CVES if c.product == product.id]
    exposed = {f['machineId'] for f in view.findings
               if f['productVendor'] == product.vendor and f['productName'] == product.name}
    impact = sum(c.cvss for c in cves if any(f['cveId'] == c.id for f in view.findings)) * len(exposed) / 100
    return {'id': product.id, 'name': product.name, 'vendor': product.vendor, 'weaknesses': len(cves),
            'publicExploit': any(c.exploit for c in cves), 'activeAlert': product.active_alert,
            'exposedMachines': len(exposed), 'impactScore': round(impact, 8)}


def vulnerability_raw(view: Inventory, cve: Cve) -> dict[str, Any]:
    return {
        'id': cve.id, 'name': cve.id, 'description': cve.description, 'severity': cve.severity, 'cvssV3': cve.cvss,
        'cvssVector': cve.vector, 'exposedMachines': len(_exposed(view, cve.id)),
        'publishedOn': parse_time(cve.published), 'updatedOn': parse_time(cve.updated),
        'firstDetected': parse_time(cve.published), 'publicExploit': bool(cve.exploit),
        'exploitVerified': cve.verified, 'exploitInKit': cve.in_kit, 'exploitTypes': list(cve.exploit),
        'exploitUris': [f'https://exploits.example/{cve.id.lower()}'] if cve.exploit else [],
        'cveSupportability': 'Supported', 'epss': cve.epss,
    }


def render_vulnerability(raw: dict[str, Any]) -> dict[str, Any]:
    return format_times(raw, ('publishedOn', 'updatedOn', 'firstDetected'))


def kb_raw(view: Inventory, kb_id: str, machine_ids: set[str] | None = None) -> dict[str, Any]:
    name, build, products = KBS[kb_id]
    missed = {f['machineId'] for f in view.findings if f['fixingKbId'] == kb_id}
    if machine_ids is not None:
        missed &= machine_ids
    return {'id': kb_id, 'name': name, 'osBuild': build, 'productsNames': products,
            'url': f'https://catalog.update.microsoft.com/v7/site/Search.aspx?q=KB{kb_id}',
            'machineMissedOn': len(missed), 'cveAddressed': len({c.id for c in CVES if c.kb == kb_id})}


def machine_ref(machine: Machine) -> dict[str, Any]:
    return {'id': machine.id, 'computerDnsName': machine.computer_dns_name, 'osPlatform': machine.os_platform,
            'rbacGroupName': machine.rbac_group_name, 'rbacGroupId': machine.rbac_group_id}


# ----- helpers ------------------------------------------------------------------------------------------------------

def _view(request: Request) -> Inventory:
    return inventory(get_store(emulator_context(request)))


def _collection(request: Request, entity: str, items: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse({'@odata.context': odata_context(request, entity), 'value': items})


def _product_or_404(software_id: str) -> Product | JSONResponse:
    product = PRODUCT_BY_ID.get(software_id.lower())
    if product is None:
        return defender_error(404, 'ResourceNotFound', f'Software {software_id} was not found')
    return product


def _cve_or_404(cve_id: str) -> Cve | JSONResponse:
    cve = _cve_rows().get(cve_id.upper())
    if cve is None:
        return defender_error(404, 'ResourceNotFound', f'Vulnerability {cve_id} was not found')
    return cve


# ----- software -----------------------------------------------------------------------------------------------------

SOFTWARE_PROPS = {n: Prop(n, 'string') for n in ('id', 'name', 'vendor')}


@module.route('/api/Software', permissions=SOFTWARE_READ)
async def list_software(request: Request, principal: Principal) -> Response:
    try:
        query = parse_query(request, SOFTWARE_PROPS, 'microsoft.windowsDefenderATP.api.PublicSoftwareDto')
    except ODataError as exc:
        return odata_error(exc)
    view = _view(request)
    items = [software_raw(view, p) for p in PRODUCTS if any(p.id in i for i in view.installs.values())]
    return page(request, '/api/Software', 'Software', items, query, dict)


@module.route('/api/Software/{software_id}', permissions=SOFTWARE_READ)
async def get_software(request: Request, principal: Principal) -> Response:
    product = _product_or_404(request.path_params['software_id'])
    if isinstance(product, JSONResponse):
        return product
    return JSONResponse({'@odata.context': odata_context(request, 'Software/$entity'),
                         **software_raw(_view(request), product)})


@module.route('/api/Software/{software_id}/machineReferences', permissions=SOFTWARE_READ)
async def software_machines(request: Request, principal: Principal) -> Response:
    product = _product_or_404(request.path_params['software_id'])
    if isinstance(product, JSONResponse):
        return product
    view = _view(request)
    refs = [machine_ref(view.machines[m]) for m, installed in view.installs.items() if product.id in installed]
    return _collection(request, 'MachineReferences', refs)


@module.route('/api/Software/{software_id}/distributions', permissions=SOFTWARE_READ)
async def software_distributions(request: Request, principal: Principal) -> Response:
    product = _product_or_404(request.path_params['software_id'])
    if isinstance(product, JSONResponse):
        return product
    view = _view(request)
    rows = []
    for version in product.versions:
        count = sum(1 for installed in view.installs.values() if installed.get(product.id) == version)
        if count:
            rows.append({'version': version, 'installations': count,
                         'vulnerabilities': sum(1 for c in CVES if c.product == product.id and version in c.versions)})
    return _collection(request, 'Collection(microsoft.windowsDefenderATP.api.DistributionDto)', rows)


@module.route('/api/Software/{software_id}/getmissingkbs', permissions=SOFTWARE_READ)
async def software_missing_kbs(request: Request, principal: Principal) -> Response:
    product = _product_or_404(request.path_params['software_id'])
    if isinstance(product, JSONResponse):
        return product
    view = _view(request)
    ids = dict.fromkeys(c.kb for c in CVES if c.product == product.id and c.kb)
    rows = [kb_raw(view, kb) for kb in ids]
    return _collection(request, 'Collection(microsoft.windowsDefenderATP.api.PublicProductFixDto)',
                       [r for r in rows if r['machineMissedOn']])


@module.route('/api/Software/{software_id}/vulnerabilities', permissions=VULNERABILITY_READ)
async def software_vulnerabilities(request: Request, principal: Principal) -> Response:
    product = _product_or_404(request.path_params['software_id'])
    if isinstance(product, JSONResponse):
        return product
    view = _view(request)
    rows = _cve_rows()
    ids = dict.fromkeys(c.id for c in CVES if c.product == product.id)
    return _collection(request, 'Vulnerabilities',
                       [render_vulnerability(vulnerability_raw(view, rows[i])) for i in ids])


# ----- vulnerabilities ----------------------------------------------------------------------------------------------

VULNERABILITY_PROPS = {n: Prop(n, k) for n, k in [
    ('id', 'string'), ('name', 'string'), ('description', 'string'), ('severity', 'string'), ('cvssV3', 'number'),
    ('publishedOn', 'datetime'), ('updatedOn', 'datetime')]}
FINDING_PROPS = {n: Prop(n, 'string') for n in ('id', 'cveId', 'machineId', 'fixingKbId', 'productName',
                                                 'productVersion', 'severity', 'productVendor')}


@module.route('/api/vulnerabilities/machinesVulnerabilities', permissions=VULNERABILITY_READ)
async def machines_vulnerabilities(request: Request, principal: Principal) -> Response:
    try:
        query = parse_query(request, FINDING_PROPS, 'microsoft.windowsDefenderATP.api.PublicAssetVulnerabilityDto')
    except ODataError as exc:
        return odata_error(exc)
    path = '/api/vulnerabilities/machinesVulnerabilities'
    return page(request, path, 'Collection(microsoft.windowsDefenderATP.api.PublicAssetVulnerabilityDto)',
                _view(request).findings, query, dict)


@module.route('/api/vulnerabilities', permissions=VULNERABILITY_READ)
async def list_vulnerabilities(request: Request, principal: Principal) -> Response:
    try:
        query = parse_query(request, VULNERABILITY_PROPS, 'microsoft.windowsDefenderATP.api.PublicVulnerabilityDto')
    except ODataError as exc:
        return odata_error(exc)
    view = _view(request)
    items = [vulnerability_raw(view, c) for c in _cve_rows().values()]
    return page(request, '/api/vulnerabilities', 'Vulnerabilities', items, query, render_vulnerability)


@module.route('/api/vulnerabilities/{cve_id}', permissions=VULNERABILITY_READ)
async def get_vulnerability(request: Request, principal: Principal) -> Response:
    cve = _cve_or_404(request.path_params['cve_id'])
    if isinstance(cve, JSONResponse):
        return cve
    raw = vulnerability_raw(_view(request), cve)
    return JSONResponse({'@odata.context': odata_context(request, 'Vulnerabilities/$entity'), **render_vulnerability(raw)})


@module.route('/api/vulnerabilities/{cve_id}/machineReferences', permissions=VULNERABILITY_READ)
async def vulnerability_machines(request: Request, principal: Principal) -> Response:
    cve = _cve_or_404(request.path_params['cve_id'])
    if isinstance(cve, JSONResponse):
        return cve
    view = _view(request)
    return _collection(request, 'MachineReferences', [machine_ref(view.machines[m]) for m in _exposed(view, cve.id)])


# ----- per machine --------------------------------------------------------------------------------------------------

def _machine(request: Request) -> tuple[Inventory, Machine] | JSONResponse:
    store = get_store(emulator_context(request))
    machine = machine_or_404(store, request.path_params['machine_id'])
    if isinstance(machine, JSONResponse):
        return machine
    return inventory(store), machine


@module.route('/api/machines/{machine_id}/software', permissions=SOFTWARE_READ)
async def machine_software(request: Request, principal: Principal) -> Response:
    found = _machine(request)
    if isinstance(found, JSONResponse):
        return found
    view, machine = found
    return _collection(request, 'Software',
                       [software_raw(view, PRODUCT_BY_ID[p]) for p in view.installs.get(machine.id, {})])


@module.route('/api/machines/{machine_id}/getmissingkbs', permissions=SOFTWARE_READ)
async def machine_missing_kbs(request: Request, principal: Principal) -> Response:
    found = _machine(request)
    if isinstance(found, JSONResponse):
        return found
    view, machine = found
    ids = dict.fromkeys(f['fixingKbId'] for f in view.findings if f['machineId'] == machine.id and f['fixingKbId'])
    return _collection(request, 'Collection(microsoft.windowsDefenderATP.api.PublicProductFixDto)',
                       [kb_raw(view, kb, {machine.id}) for kb in ids])


@module.route('/api/machines/{machine_id}/vulnerabilities', permissions=VULNERABILITY_READ)
async def machine_vulnerabilities(request: Request, principal: Principal) -> Response:
    found = _machine(request)
    if isinstance(found, JSONResponse):
        return found
    view, machine = found
    rows = _cve_rows()
    ids = dict.fromkeys(f['cveId'] for f in view.findings if f['machineId'] == machine.id)
    return _collection(request, 'Vulnerabilities',
                       [render_vulnerability(vulnerability_raw(view, rows[i])) for i in ids])
