"""Files, domains and IPs: ``/api/files/{hash}``, their prevalence statistics, ``/api/domains/{domain}/stats``,
``/api/ips/{ip}/stats``."""
from __future__ import annotations

import ipaddress
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..core.clock import TICKS_PER_SECOND, format_time, now_ticks
from ..core.http import defender_error
from ..tokens import Principal
from .common import format_times, module, odata_context, request_store

FILE_FIELDS = ('sha1', 'sha256', 'md5', 'globalPrevalence', 'globalFirstObserved', 'globalLastObserved', 'size',
               'fileType', 'isPeFile', 'filePublisher', 'fileProductName', 'signer', 'issuer', 'signerHash',
               'isValidCertificate', 'determinationType', 'determinationValue')
_HASH = re.compile(r'^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$')


def _lookback(request: Request) -> int | JSONResponse:
    raw = request.query_params.get('lookBackHours')
    if raw is None:
        return 720
    if not raw.isdigit() or not 1 <= int(raw) <= 720:
        return defender_error(400, 'InvalidRequest', 'lookBackHours must be a whole number of hours between 1 and 720')
    return int(raw)


@module.route('/api/files/{file_hash}', permissions=['File.Read.All', 'File.Read'])
async def get_file(request: Request, principal: Principal) -> Response:
    file_hash = request.path_params['file_hash']
    if not _HASH.match(file_hash):
        return defender_error(400, 'InvalidRequest', f'Invalid file hash {file_hash}')
    observation = request_store(request).files.get(file_hash.lower())
    if observation is None:
        return defender_error(404, 'ResourceNotFound', f'File {file_hash} was not found')
    out = {k: observation.extra.get(k) for k in FILE_FIELDS}
    out = format_times(out, ('globalFirstObserved', 'globalLastObserved'))
    return JSONResponse({'@odata.context': odata_context(request, 'Files/$entity'), **out})


def _org_stats(observation: Any, lookback: int) -> tuple[str, str | None, str | None]:
    if observation is None or observation.last_seen < now_ticks() - lookback * 3600 * TICKS_PER_SECOND:
        return '0', None, None
    return str(len(observation.machine_ids)), format_time(observation.first_seen), format_time(observation.last_seen)


@module.route('/api/files/{file_hash}/stats', permissions=['File.Read.All', 'File.Read'])
async def file_stats(request: Request, principal: Principal) -> Response:
    file_hash = request.path_params['file_hash']
    if not _HASH.match(file_hash):
        return defender_error(400, 'InvalidRequest', f'Invalid file hash {file_hash}')
    lookback = _lookback(request)
    if isinstance(lookback, JSONResponse):
        return lookback
    observation = request_store(request).files.get(file_hash.lower())
    prevalence, first, last = _org_stats(observation, lookback)
    extra = observation.extra if observation else {}
    return JSONResponse({
        '@odata.context': odata_context(request, 'microsoft.windowsDefenderATP.api.InOrgFileStats'),
        'sha1': extra.get('sha1', file_hash.lower() if len(file_hash) == 40 else None),
        # Learn documents the numbers organizationPrevalence and globallyPrevalence; the service also sends the
        # older string counts orgPrevalence and globalPrevalence, which integrations built on it still read.
        'organizationPrevalence': int(prevalence), 'orgPrevalence': prevalence,
        'orgFirstSeen': first, 'orgLastSeen': last,
        'globallyPrevalence': int(extra['globalPrevalence']) if extra else 0,
        'globalPrevalence': str(extra['globalPrevalence']) if extra else '0',
        'globalFirstObserved': format_time(extra.get('globalFirstObserved')),
        'globalLastObserved': format_time(extra.get('globalLastObserved')),
        'topFileNames': list(extra.get('topFileNames', [])),
    })


@module.route('/api/domains/{domain}/stats', permissions=['URL.Read.All', 'Url.Read.All', 'URL.Read', 'Url.Read'])
async def domain_stats(request: Request, principal: Principal) -> Response:
    lookback = _lookback(request)
    if isinstance(lookback, JSONResponse):
        return lookback
    domain = request.path_params['domain'].lower()
    prevalence, first, last = _org_stats(request_store(request).domains.get(domain), lookback)
    return JSONResponse({'@odata.context': odata_context(request, 'microsoft.windowsDefenderATP.api.InOrgDomainStats'),
                         'host': domain, 'organizationPrevalence': int(prevalence), 'orgPrevalence': prevalence,
                         'orgFirstSeen': first, 'orgLastSeen': last})


@module.route('/api/ips/{ip}/stats', permissions=['Ip.Read.All', 'Ip.Read'])
async def ip_stats(request: Request, principal: Principal) -> Response:
    ip = request.path_params['ip']
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        return defender_error(400, 'InvalidRequest', f"Invalid IP address '{ip}'")
    lookback = _lookback(request)
    if isinstance(lookback, JSONResponse):
        return lookback
    prevalence, first, last = _org_stats(request_store(request).ips.get(ip), lookback)
    return JSONResponse({'@odata.context': odata_context(request, 'microsoft.windowsDefenderATP.api.InOrgIPStats'),
                         'ipAddress': ip, 'organizationPrevalence': int(prevalence), 'orgPrevalence': prevalence,
                         'orgFirstSeen': first, 'orgLastSeen': last})


