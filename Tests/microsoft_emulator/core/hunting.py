"""Advanced hunting's shared parts: the tables' schemas (one schema, as Microsoft has one for Defender XDR and
Defender for Endpoint), the ``Stats`` block of a hunting response, and the table source the KQL engine reads.

Each product supplies a :class:`HuntingTables` over its own store (Defender XDR: generated rows and the incident
store's alerts; Defender for Endpoint: rows derived from its machines, files and alerts)."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

Row = dict[str, Any]


class HuntingTables(Protocol):
    """What :func:`core.kql.run_query` reads: a table's rows (times as ticks). Schemas come from
    :data:`TABLE_SCHEMAS`."""

    def rows(self, table: str) -> list[Row]: ...


# Column names and types follow Microsoft's advanced hunting schema reference (a subset of each table's columns),
# e.g. https://learn.microsoft.com/defender-xdr/advanced-hunting-devicenetworkevents-table (read 2026-12-06 for the
# initiating process hashes the hunting playbooks filter on).
TABLE_SCHEMAS: dict[str, list[tuple[str, str]]] = {
    'DeviceInfo': [('Timestamp', 'DateTime'), ('DeviceId', 'String'), ('DeviceName', 'String'),
                   ('ClientVersion', 'String'), ('PublicIP', 'String'), ('OSArchitecture', 'String'),
                   ('OSPlatform', 'String'), ('OSBuild', 'Int64'), ('OSVersion', 'String'),
                   ('IsAzureADJoined', 'Boolean'), ('AadDeviceId', 'String'), ('MachineGroup', 'String'),
                   ('OnboardingStatus', 'String'), ('DeviceType', 'String'), ('ReportId', 'Int64')],
    'DeviceProcessEvents': [('Timestamp', 'DateTime'), ('DeviceId', 'String'), ('DeviceName', 'String'),
                            ('ActionType', 'String'), ('FileName', 'String'), ('FolderPath', 'String'),
                            ('SHA1', 'String'), ('SHA256', 'String'), ('MD5', 'String'), ('ProcessId', 'Int64'),
                            ('ProcessCommandLine', 'String'), ('ProcessCreationTime', 'DateTime'),
                            ('AccountDomain', 'String'), ('AccountName', 'String'),
                            ('InitiatingProcessFileName', 'String'), ('InitiatingProcessCommandLine', 'String'),
                            ('InitiatingProcessId', 'Int64'), ('InitiatingProcessParentFileName', 'String'),
                            ('ReportId', 'Int64')],
    'DeviceNetworkEvents': [('Timestamp', 'DateTime'), ('DeviceId', 'String'), ('DeviceName', 'String'),
                            ('ActionType', 'String'), ('RemoteIP', 'String'), ('RemotePort', 'Int32'),
                            ('RemoteUrl', 'String'), ('LocalIP', 'String'), ('LocalPort', 'Int32'),
                            ('Protocol', 'String'), ('RemoteIPType', 'String'), ('InitiatingProcessFileName', 'String'),
                            ('InitiatingProcessSHA1', 'String'), ('InitiatingProcessSHA256', 'String'),
                            ('InitiatingProcessMD5', 'String'), ('ReportId', 'Int64')],
    'EmailEvents': [('Timestamp', 'DateTime'), ('NetworkMessageId', 'String'), ('InternetMessageId', 'String'),
                    ('SenderFromAddress', 'String'), ('SenderFromDomain', 'String'), ('SenderIPv4', 'String'),
                    ('RecipientEmailAddress', 'String'), ('Subject', 'String'), ('EmailDirection', 'String'),
                    ('DeliveryAction', 'String'), ('DeliveryLocation', 'String'), ('ThreatTypes', 'String'),
                    ('AttachmentCount', 'Int32'), ('UrlCount', 'Int32'), ('ReportId', 'String'),
                    ('SenderIPv6', 'String')],
    'AlertInfo': [('Timestamp', 'DateTime'), ('AlertId', 'String'), ('Title', 'String'), ('Category', 'String'),
                  ('Severity', 'String'), ('ServiceSource', 'String'), ('DetectionSource', 'String'),
                  ('AttackTechniques', 'String')],
    'DeviceEvents': [('Timestamp', 'DateTime'), ('DeviceId', 'String'), ('DeviceName', 'String'),
                     ('ActionType', 'String'), ('FileName', 'String'), ('FolderPath', 'String'),
                     ('AccountName', 'String'), ('RemoteUrl', 'String'), ('AdditionalFields', 'Dynamic'),
                     ('InitiatingProcessFileName', 'String'), ('InitiatingProcessCommandLine', 'String'),
                     ('InitiatingProcessSHA1', 'String'), ('InitiatingProcessSHA256', 'String'),
                     ('InitiatingProcessMD5', 'String'), ('ReportId', 'Int64')],
}
# Email tables beside EmailEvents (Defender for Office 365): each row belongs to one message by NetworkMessageId, so
# the email hunting playbooks' joins find their messages.
TABLE_SCHEMAS.update({
    'EmailUrlInfo': [('Timestamp', 'DateTime'), ('NetworkMessageId', 'String'), ('Url', 'String'),
                     ('UrlDomain', 'String'), ('UrlLocation', 'String'), ('ReportId', 'String')],
    'EmailAttachmentInfo': [('Timestamp', 'DateTime'), ('NetworkMessageId', 'String'),
                            ('SenderFromAddress', 'String'), ('RecipientEmailAddress', 'String'),
                            ('FileName', 'String'), ('FileType', 'String'), ('SHA256', 'String'), ('FileSize', 'Int64'),
                            ('ThreatTypes', 'String'), ('ThreatNames', 'String'), ('DetectionMethods', 'String'),
                            ('ReportId', 'String')],
    'UrlClickEvents': [('Timestamp', 'DateTime'), ('Url', 'String'), ('ActionType', 'String'),
                       ('AccountUpn', 'String'), ('Workload', 'String'), ('NetworkMessageId', 'String'),
                       ('IPAddress', 'String'), ('ThreatTypes', 'String'), ('DetectionMethods', 'String'),
                       ('IsClickedThrough', 'Boolean'), ('UrlChain', 'String'), ('ReportId', 'String')],
})
# Device tables Defender for Endpoint's hunting fills (empty in Defender XDR's generated data).
TABLE_SCHEMAS.update({
    'DeviceFileEvents': [('Timestamp', 'DateTime'), ('DeviceId', 'String'), ('DeviceName', 'String'),
                         ('ActionType', 'String'), ('FileName', 'String'), ('FolderPath', 'String'),
                         ('SHA1', 'String'), ('SHA256', 'String'), ('MD5', 'String'), ('FileSize', 'Int64'),
                         ('FileOriginUrl', 'String'), ('FileOriginReferrerUrl', 'String'), ('FileOriginIP', 'String'),
                         ('InitiatingProcessFileName', 'String'), ('InitiatingProcessAccountName', 'String'),
                         ('ReportId', 'Int64')],
    'DeviceRegistryEvents': [('Timestamp', 'DateTime'), ('DeviceId', 'String'), ('DeviceName', 'String'),
                             ('ActionType', 'String'), ('RegistryKey', 'String'), ('RegistryValueType', 'String'),
                             ('RegistryValueName', 'String'), ('RegistryValueData', 'String'),
                             ('InitiatingProcessFileName', 'String'), ('InitiatingProcessCommandLine', 'String'),
                             ('InitiatingProcessSHA1', 'String'), ('InitiatingProcessSHA256', 'String'),
                             ('InitiatingProcessMD5', 'String'), ('ReportId', 'Int64')],
    'DeviceImageLoadEvents': [('Timestamp', 'DateTime'), ('DeviceId', 'String'), ('DeviceName', 'String'),
                              ('ActionType', 'String'), ('FileName', 'String'), ('FolderPath', 'String'),
                              ('SHA1', 'String'), ('SHA256', 'String'), ('MD5', 'String'),
                              ('InitiatingProcessFileName', 'String'), ('InitiatingProcessCommandLine', 'String'),
                              ('ReportId', 'Int64')],
    'DeviceLogonEvents': [('Timestamp', 'DateTime'), ('DeviceId', 'String'), ('DeviceName', 'String'),
                          ('ActionType', 'String'), ('LogonType', 'String'), ('AccountDomain', 'String'),
                          ('AccountName', 'String'), ('AccountSid', 'String'), ('RemoteIP', 'String'),
                          ('IsLocalAdmin', 'Boolean'), ('InitiatingProcessFileName', 'String'),
                          ('InitiatingProcessSHA1', 'String'),
                          ('InitiatingProcessSHA256', 'String'), ('InitiatingProcessMD5', 'String'),
                          ('ReportId', 'Int64')],
})


# ----- the tenant-wide view (Microsoft Graph runHuntingQuery) -------------------------------------------------------
# Microsoft Graph's runHuntingQuery searches one dataset per tenant: what Defender for Endpoint collects and what the
# other Defender XDR workloads collect. Each product registers how to read its tables under the name of the API module
# that owns them; the Graph route reads every registered product whose module the running emulator serves. Products
# never import each other: they meet here.
HuntingSource = Callable[[Any], HuntingTables]       # emulator context -> the product's tables
_SOURCES: dict[str, tuple[int, HuntingSource]] = {}


def register_hunting_source(module_name: str, source: HuntingSource, rank: int) -> None:
    """``rank`` orders the products' rows in the joined tables (lower first), whatever the import order."""
    _SOURCES[module_name] = (rank, source)


class UnionTables:
    """Every product's rows of a table, one product after the other (each product's order kept)."""

    def __init__(self, parts: list[HuntingTables]):
        self.parts = parts

    def rows(self, table: str) -> list[Row]:
        found = [rows for rows in (part.rows(table) for part in self.parts) if rows]
        if len(found) == 1:
            return found[0]
        return [row for rows in found for row in rows]


def tenant_hunting_tables(ctx: Any) -> HuntingTables:
    """The tables Graph's runHuntingQuery reads: every registered product the emulator serves (by module name)."""
    served = {module.name for module in ctx.modules}
    ranked = sorted((rank, name, source) for name, (rank, source) in _SOURCES.items() if name in served)
    return UnionTables([source(ctx) for _, _, source in ranked])


def hunting_stats(seconds: float, rows: list[dict[str, Any]]) -> dict[str, Any]:
    size = sum(len(json.dumps(r, separators=(',', ':'))) for r in rows[:1000]) * max(1, len(rows)) // max(
        1, min(len(rows), 1000))
    cpu = f'00:00:{min(seconds * 4, 59.9999999):010.7f}'
    return {
        'ExecutionTime': round(seconds, 6),
        'resource_usage': {
            'cache': {'memory': {'hits': 1000 + len(rows), 'misses': 12, 'total': 1012 + len(rows)},
                      'disk': {'hits': 8, 'misses': 1, 'total': 9}},
            'cpu': {'user': cpu, 'kernel': '00:00:00', 'total cpu': cpu},
            'memory': {'peak_per_node': 16_777_216 + size},
        },
        'dataset_statistics': [{'table_row_count': len(rows), 'table_size': size}],
    }
