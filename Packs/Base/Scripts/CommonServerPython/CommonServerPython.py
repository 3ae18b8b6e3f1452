"""CommonServerPython: the runtime library the XSOAR server prepends to every Python integration and script.

This is an independent implementation written for this project. It reproduces the public behaviour of the
platform library (names, signatures, entry keys, DT key syntax, table format, error strings) so that integration
code written against it runs unchanged on a real server, and so that unit tests written in the content
repository's style pass locally.

It is one file on purpose: the server injects a single script. Integrations import it with
``from CommonServerPython import *``; there is no ``__all__``, so the standard-library names imported below
(``json``, ``os``, ``re``, ``datetime`` ...) are part of the surface integrations rely on.

Deliberate differences from the platform library:

- Indicator classes accept the fields of the current Base (the pack's minimum Base may lack some: integrations pass
  newer fields only when the installed class declares them).
- LOG registers secrets unmasked and replaces the longest first, so a secret containing another one (a
  basic-auth header containing a password) is masked whole.
- Debug mode logs the parameters, the environment and http.client's trace through LOG (no cURL rendering).
- BaseClient has no custom-cipher TLS adapter for ``verify=False``; it silences InsecureRequestWarning per request
  instead of calling ``urllib3.disable_warnings()`` at import. An unparsable ``resp_type='xml'`` body raises
  DemistoException instead of the raw ParseError.
- No import-time side effects besides ``callingContext['params']`` and ``LOG`` (no warnings handler).
- Not implemented: XSIAM event sending, IndicatorsSearcher, fetch look-back helpers, the indicator regex
  catalogue (only hash regexes), Cryptocurrency/AttackPattern indicators; Certificate is minimal.
- ``mask_secrets()`` is a local addition for this repository's tooling; integrations must not depend on it.
"""
import base64
import inspect as _inspect
import json
import logging
import os
import random as _random
import re
import sys
import time
import traceback
import urllib.parse
import warnings
import xml.etree.ElementTree as ET
from abc import abstractmethod
from datetime import datetime, timedelta, timezone
from functools import wraps
from inspect import currentframe
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Union, cast

import dateparser
import demistomock as demisto
import requests
import urllib3 as _urllib3
from requests.adapters import HTTPAdapter

_UTC = timezone.utc  # noqa: UP017 - private: the platform library does not export datetime.UTC

# Re-exported on purpose: integrations receive these through the star import.
_REEXPORTED = (base64, json, logging, os, re, sys, time, traceback, ET, Set, cast, Union, Optional, Dict, List, Any,
               timezone, timedelta)


# ============================================================================================================
# Line bookkeeping for unified scripts
# ============================================================================================================

def __line__() -> int:
    """Return the caller's line number; unified scripts use it to mark where an inlined module starts and ends."""
    frame = currentframe()
    caller = frame.f_back if frame else None
    return caller.f_lineno if caller else 0


_MODULES_LINE_MAPPING: Dict[str, Dict[str, float]] = {
    'CommonServerPython': {'start': 0, 'start_wrapper': 0, 'end': float('inf'), 'end_wrapper': float('inf')},
}


def register_module_line(module_name: str, start_end: str, line: int, wrapper: int = 0) -> None:
    """Record where an inlined module starts or ends, so tracebacks can name the module and its own line.

    Invalid input is logged and ignored: this runs at import time of unified code and must never fail it.
    """
    if start_end not in ('start', 'end') or not isinstance(line, int) or isinstance(line, bool) or line < 0:
        demisto.debug(f'register_module_line ignored: module="{module_name}" start_end="{start_end}" line="{line}"')
        return
    info = _MODULES_LINE_MAPPING.setdefault(
        module_name, {'start': 0, 'start_wrapper': 0, 'end': float('inf'), 'end_wrapper': float('inf')})
    info[start_end] = line
    info[f'{start_end}_wrapper'] = line + wrapper


def _module_for_line(line: int) -> str:
    """The innermost registered module whose range contains ``line``."""
    best = ''
    for name, info in _MODULES_LINE_MAPPING.items():
        if info['start'] <= line <= info['end'] and (not best or info['start'] > _MODULES_LINE_MAPPING[best]['start']):
            best = name
    return best


def fix_traceback_line_numbers(trace_str: str) -> str:
    """Rewrite ``File "<string>", line N`` frames of a unified script into ``File "<Module>", line M``."""
    def replace(match: 're.Match[str]') -> str:
        line = int(match.group(1))
        module = _module_for_line(line)
        if not module:
            return match.group(0)
        start = _MODULES_LINE_MAPPING[module]['start']
        relative = line - start
        # Subtract the size of modules inlined inside this one before this line.
        for other, info in _MODULES_LINE_MAPPING.items():
            block_start = info.get('start_wrapper', info['start'])
            block_end = info.get('end_wrapper', info['end'])
            if other != module and block_start > start and block_end < line:
                relative -= block_end - block_start
        return f'File "<{module}>", line {int(relative)},'
    return re.sub(r'File "<string>", line (\d+),', replace, trace_str)


# ============================================================================================================
# Constants and enums (values are interface facts of the platform)
# ============================================================================================================

MASK = '<XX_REPLACED>'
MAX_ERROR_MESSAGE_LENGTH = 50000
CONTENT_RELEASE_VERSION = '0.0.0'
CONTENT_BRANCH_NAME = 'master'
IS_PY3 = True
PY_VER_MINOR = sys.version_info[1]
STRING_TYPES = (str, bytes)
STRING_OBJ_TYPES = (str,)
SERVER_HANDLED_COMMANDS = ('fetch-incidents', 'fetch-credentials', 'long-running-execution', 'fetch-indicators')

# Deprecated dictionaries, kept because older integrations still read them.
entryTypes = {
    'note': 1, 'downloadAgent': 2, 'file': 3, 'error': 4, 'pinned': 5, 'userManagement': 6, 'image': 7,
    'playgroundError': 8, 'entryInfoFile': 9, 'warning': 11, 'map': 15, 'debug': 16, 'widget': 17,
}
formats = {
    'html': 'html', 'table': 'table', 'json': 'json', 'text': 'text', 'dbotResponse': 'dbotCommandResponse',
    'markdown': 'markdown',
}

ENDPOINT_STATUS_OPTIONS = ['Online', 'Offline', 'Unknown']
ENDPOINT_ISISOLATED_OPTIONS = ['Yes', 'No', 'Pending isolation', 'Pending unisolation']


class EntryType:
    """War-room entry types."""
    NOTE = 1
    DOWNLOAD_AGENT = 2
    FILE = 3
    ERROR = 4
    PINNED = 5
    USER_MANAGEMENT = 6
    IMAGE = 7
    PLAYGROUND_ERROR = 8
    ENTRY_INFO_FILE = 9
    VIDEO_FILE = 10
    WARNING = 11
    STATIC_VIDEO_FILE = 12
    MAP_ENTRY_TYPE = 15
    WIDGET = 17
    EXECUTION_METRICS = 19


class EntryFormat:
    """Formats of an entry's Contents."""
    HTML = 'html'
    TABLE = 'table'
    JSON = 'json'
    TEXT = 'text'
    DBOT_RESPONSE = 'dbotCommandResponse'
    MARKDOWN = 'markdown'

    @classmethod
    def is_valid_type(cls, _type: Any) -> bool:
        return _type in (cls.HTML, cls.TABLE, cls.JSON, cls.TEXT, cls.DBOT_RESPONSE, cls.MARKDOWN)


class IncidentStatus:
    PENDING = 0
    ACTIVE = 1
    DONE = 2
    ARCHIVE = 3


class IncidentSeverity:
    UNKNOWN = 0
    INFO = 0.5
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4


class DBotScoreType:
    """Indicator types a DBotScore can describe."""
    IP = 'ip'
    FILE = 'file'
    DOMAIN = 'domain'
    URL = 'url'
    CVE = 'cve'
    ACCOUNT = 'account'
    CIDR = ('cidr',)  # a one-element tuple on the platform (a stray comma there); kept identical on purpose
    DOMAINGLOB = 'domainglob'
    CERTIFICATE = 'certificate'
    CRYPTOCURRENCY = 'cryptocurrency'
    EMAIL = 'email'
    ATTACKPATTERN = 'attackpattern'
    CUSTOM = 'custom'

    @classmethod
    def is_valid_type(cls, _type: Any) -> bool:
        return _type in (cls.IP, cls.FILE, cls.DOMAIN, cls.URL, cls.CVE, cls.ACCOUNT, cls.CIDR, cls.DOMAINGLOB,
                         cls.CERTIFICATE, cls.CRYPTOCURRENCY, cls.EMAIL, cls.ATTACKPATTERN, cls.CUSTOM)


class DBotScoreReliability:
    """Source reliability levels (case sensitive strings)."""
    A_PLUS = 'A+ - 3rd party enrichment'
    A = 'A - Completely reliable'
    B = 'B - Usually reliable'
    C = 'C - Fairly reliable'
    D = 'D - Not usually reliable'
    E = 'E - Unreliable'
    F = 'F - Reliability cannot be judged'

    @staticmethod
    def is_valid_type(_type: Any) -> bool:
        return _type in _RELIABILITIES

    @staticmethod
    def get_dbot_score_reliability_from_str(reliability_str: str) -> str:
        """Validate a reliability parameter value (as configured in an integration instance)."""
        if reliability_str in _RELIABILITIES:
            return reliability_str
        raise Exception('Please use supported reliability only.')


_RELIABILITIES = (DBotScoreReliability.A_PLUS, DBotScoreReliability.A, DBotScoreReliability.B, DBotScoreReliability.C,
                  DBotScoreReliability.D, DBotScoreReliability.E, DBotScoreReliability.F)


class ErrorTypes:
    """Execution-metric categories, as the server names them."""
    SUCCESS = 'Successful'
    QUOTA_ERROR = 'QuotaError'
    GENERAL_ERROR = 'GeneralError'
    AUTH_ERROR = 'AuthError'
    SERVICE_ERROR = 'ServiceError'
    CONNECTION_ERROR = 'ConnectionError'
    PROXY_ERROR = 'ProxyError'
    SSL_ERROR = 'SSLError'
    TIMEOUT_ERROR = 'TimeoutError'
    RETRY_ERROR = 'RetryError'


class FeedIndicatorType:
    """Indicator type names used by feed (TIM) integrations."""
    Account = 'Account'
    CVE = 'CVE'
    Domain = 'Domain'
    DomainGlob = 'DomainGlob'
    Email = 'Email'
    File = 'File'
    FQDN = 'Domain'
    Host = 'Host'
    IP = 'IP'
    CIDR = 'CIDR'
    IPv6 = 'IPv6'
    IPv6CIDR = 'IPv6CIDR'
    Registry = 'Registry Key'
    SSDeep = 'ssdeep'
    URL = 'URL'
    AS = 'ASN'
    MUTEX = 'Mutex'
    Malware = 'Malware'
    Identity = 'Identity'
    Location = 'Location'
    Software = 'Software'
    X509 = 'X509 Certificate'

    @staticmethod
    def list_all_supported_indicators() -> List[str]:
        return [v for k, v in vars(FeedIndicatorType).items() if not k.startswith('_') and isinstance(v, str)]

    @staticmethod
    def is_valid_type(_type: Any) -> bool:
        return _type in FeedIndicatorType.list_all_supported_indicators()


class ParameterTypes:
    """Integration parameter (configuration) types."""
    STRING = 0
    NUMBER = 1
    ENCRYPTED = 4
    BOOLEAN = 8
    AUTH = 9
    DOWNLOAD_LINK = 11
    TEXT_AREA = 12
    INCIDENT_TYPE = 13
    TEXT_AREA_ENCRYPTED = 14
    SINGLE_SELECT = 15
    MULTI_SELECT = 16


INDICATOR_TYPE_TO_CONTEXT_KEY = {
    'ip': 'Address', 'email': 'Address', 'url': 'Data', 'domain': 'Name', 'cve': 'ID', 'md5': 'file', 'sha1': 'file',
    'sha256': 'file', 'crc32': 'file', 'sha512': 'file', 'ctph': 'file', 'ssdeep': 'file',
}

_FILE_DT = ('File(val.MD5 && val.MD5 == obj.MD5 || val.SHA1 && val.SHA1 == obj.SHA1 || '
            'val.SHA256 && val.SHA256 == obj.SHA256 || val.SHA512 && val.SHA512 == obj.SHA512 || '
            'val.CRC32 && val.CRC32 == obj.CRC32 || val.CTPH && val.CTPH == obj.CTPH || '
            'val.SSDeep && val.SSDeep == obj.SSDeep)')

outputPaths = {
    'file': _FILE_DT,
    'ip': 'IP(val.Address && val.Address == obj.Address)',
    'url': 'URL(val.Data && val.Data == obj.Data)',
    'domain': 'Domain(val.Name && val.Name == obj.Name)',
    'cve': 'CVE(val.ID && val.ID == obj.ID)',
    'email': 'Account.Email(val.Address && val.Address == obj.Address)',
    'dbotscore': 'DBotScore',
}

regexFlags = re.M
md5Regex = re.compile(r'\b[0-9a-fA-F]{32}\b', regexFlags)
sha1Regex = re.compile(r'\b[0-9a-fA-F]{40}\b', regexFlags)
sha256Regex = re.compile(r'\b[0-9a-fA-F]{64}\b', regexFlags)
sha512Regex = re.compile(r'\b[0-9a-fA-F]{128}\b', regexFlags)


# ============================================================================================================
# Small generic helpers
# ============================================================================================================

def is_debug_mode() -> bool:
    """True when the command was run with ``debug-mode=true``."""
    return bool(getattr(demisto, 'is_debug', False))


def assign_params(keys_to_ignore: Iterable[str] | None = None, values_to_ignore: Iterable[Any] | None = None,
                  **kwargs: Any) -> Dict[str, Any]:
    """Build a dict from keyword arguments, dropping empty values (None, '', [], {}, ()); 0 and False are kept."""
    ignored_values = tuple(values_to_ignore) if values_to_ignore is not None else (None, '', [], {}, ())
    ignored_keys = set(keys_to_ignore or ())
    return {k: v for k, v in kwargs.items() if k not in ignored_keys and v not in ignored_values}


def remove_nulls_from_dictionary(data: Dict[str, Any]) -> None:
    """Delete, in place, the keys whose values are empty (None, '', [], {}, ())."""
    for key in [k for k, v in data.items() if v in ('', None, [], {}, ())]:
        del data[key]


def remove_empty_elements(d: Any) -> Any:
    """Recursively drop None, {} and [] values from dicts and lists (other falsy values such as 0 or '' stay)."""
    def empty(x: Any) -> bool:
        return x is None or (isinstance(x, (dict, list)) and not x)

    if isinstance(d, list):
        return [v for v in (remove_empty_elements(item) for item in d) if not empty(v)]
    if isinstance(d, dict):
        return {k: v for k, v in ((k, remove_empty_elements(item)) for k, item in d.items()) if not empty(v)}
    return d


class SmartGetDict(dict):
    """A dict whose ``get(key, default)`` also returns the default when the stored value is None."""

    def get(self, key: Any, default: Any = None) -> Any:
        value = dict.get(self, key)
        return default if value is None else value


def urljoin(url: str, suffix: str = '') -> str:
    """Join a base URL and a suffix with exactly one slash between them."""
    if not url.endswith('/'):
        url += '/'
    return url + (suffix[1:] if suffix.startswith('/') else suffix)


def dict_safe_get(dict_object: Any, keys: List[Any], default_return_value: Any = None, return_type: Any = None,
                  raise_return_type: bool = True) -> Any:
    """Walk nested dicts/lists by ``keys``; any missing step returns the default instead of raising."""
    value = dict_object
    for key in keys:
        try:
            value = value[key]
        except (KeyError, TypeError, IndexError, AttributeError):
            value = default_return_value
            break
    if return_type and not isinstance(value, return_type):
        if raise_return_type:
            raise TypeError(f'Safe get Error:\nDetails: Return Type Error Excepted return type {return_type}, but actual type '
                            f'from nested dict/list is {type(value)} with value {value}.\nQuery: {keys}\n'
                            f'Queried object: {dict_object}')
        value = default_return_value
    return value


def batch(iterable: Any, batch_size: int = 1) -> Any:
    """Yield consecutive slices of ``iterable`` of at most ``batch_size`` items."""
    for start in range(0, len(iterable), batch_size):
        yield iterable[start:start + batch_size]


def hash_djb2(s: str, seed: int = 5381) -> int:
    """The djb2 string hash, truncated to 32 bits (used by integrations for stable short ids)."""
    value = seed
    for char in s:
        value = ((value << 5) + value) + ord(char)
    return value & 0xFFFFFFFF


def b64_encode(text: Union[str, bytes]) -> str:
    """Base64 of a str (UTF-8) or bytes, returned as str; empty input gives ''."""
    if not text:
        return ''
    raw = text if isinstance(text, bytes) else text.encode('utf-8', 'ignore')
    return base64.b64encode(raw).decode('utf-8')


def encode_string_results(text: Any) -> Any:
    """Return strings as str and anything else unchanged (kept for Python 2 era callers)."""
    return str(text) if isinstance(text, str) else text


def stringEscape(st: str) -> str:
    """Turn real CR/LF/TAB characters into their backslash escapes."""
    return st.replace('\r', '\\r').replace('\n', '\\n').replace('\t', '\\t')


def stringUnEscape(st: str) -> str:
    """Turn backslash escapes of CR/LF/TAB back into the characters."""
    return st.replace('\\r', '\r').replace('\\n', '\n').replace('\\t', '\t')


def doubleBackslashes(st: str) -> str:
    return st.replace('\\', '\\\\')


def datetime_to_string(datetime_obj: Any) -> str | None:
    """``json.dumps(..., default=datetime_to_string)`` helper: datetimes become their str()."""
    if isinstance(datetime_obj, datetime):
        return str(datetime_obj)
    return None


def underscoreToCamelCase(s: Any, upper_camel: bool = True) -> Any:
    """``hello_world`` -> ``HelloWorld`` (or ``helloWorld``); non-strings are returned unchanged."""
    if not isinstance(s, str):
        return s
    return camelize_string(s, '_', upper_camel)


def camelize_string(src_str: str, delim: str = '_', upper_camel: bool = True) -> str:
    """Camel-case a delimited string; each part is title-cased."""
    if not src_str:
        return ''
    first, *rest = src_str.split(delim)
    return (first.title() if upper_camel else first.lower()) + ''.join(part.title() for part in rest)


def camelize(src: Any, delim: str = ' ', upper_camel: bool = True) -> Any:
    """Camel-case the keys of a dict, or of every dict in a list."""
    if isinstance(src, list):
        return [camelize(item, delim, upper_camel) for item in src]
    return {camelize_string(k.decode('utf-8') if isinstance(k, bytes) else k, delim, upper_camel): v for k, v in src.items()}


def camel_case_to_underscore(s: str) -> str:
    """``helloWorld`` -> ``hello_world``."""
    partial = re.sub('(.)([A-Z][a-z]+)', r'\1_\2', s)
    return re.sub('([a-z0-9])([A-Z])', r'\1_\2', partial).lower()


def snakify(src: Dict[str, Any]) -> Dict[str, Any]:
    return {camel_case_to_underscore(k): v for k, v in src.items()}


def pascalToSpace(s: Any) -> Any:
    """``ThreatScore`` -> ``Threat Score``; runs of capitals (IP, URL) stay together."""
    if not isinstance(s, str):
        return s
    spaced = re.sub(r'([A-Z]?[a-z]+)', lambda m: f' {m.group(1).title()} ', s)
    return ' '.join(spaced.split())


def string_to_table_header(string: Any) -> str:
    """``one_two`` -> ``One Two``."""
    if not isinstance(string, str):
        raise Exception(f'The key is not a string: {string}')
    return ' '.join(word.capitalize() for word in string.replace('_', ' ').split())


def string_to_context_key(string: Any) -> str:
    """``one_two`` -> ``OneTwo``."""
    if not isinstance(string, str):
        raise Exception(f'The key is not a string: {string}')
    return ''.join(word.capitalize() for word in string.split('_'))


def replace_spaces_in_credential(credential: str | None) -> str | None:
    """Restore the newlines of a PEM block pasted into a one-line credential field."""
    if not credential:
        return credential
    match = re.search(r'(-----BEGIN[^-]*-----)(.*?)(-----END[^-]*-----)', credential, re.S)
    if not match:
        return credential
    return credential[:match.start(2)] + match.group(2).replace(' ', '\n') + credential[match.end(2):]


def is_ip_valid(s: str, accept_v6_ips: bool = False) -> bool:
    """True for a dotted-quad IPv4 address (and for IPv6 when ``accept_v6_ips``)."""
    import ipaddress
    try:
        address = ipaddress.ip_address(s)
    except ValueError:
        return False
    return address.version == 4 or accept_v6_ips


def is_mac_address(mac: str) -> bool:
    return re.search(r'([0-9A-F]{2}[:]){5}([0-9A-F]){2}', mac.upper()) is not None


def is_time_sensitive() -> bool:
    """True when the server runs the command in a time-sensitive (reputation enrichment) context."""
    return hasattr(demisto, 'isTimeSensitive') and bool(demisto.isTimeSensitive())


def get_integration_name() -> str:
    return (demisto.callingContext.get('context') or {}).get('IntegrationBrand', '')


def get_integration_instance_name() -> str:
    return (demisto.callingContext.get('context') or {}).get('IntegrationInstance', '')


def get_script_name() -> str:
    return (demisto.callingContext.get('context') or {}).get('ScriptName', '')


def get_schedule_metadata(context: Dict[str, Any]) -> Dict[str, Any]:
    """Polling metadata of the current run, read from the calling context's ParentEntry."""
    parent = context.get('ParentEntry') or {}
    if not parent:
        return {}
    return assign_params(
        is_polling=bool(parent.get('polling')),
        polling_command=parent.get('pollingCommand'),
        polling_args=parent.get('pollingArgs'),
        times_ran=int(parent.get('timesRan', 0)) + 1,
        start_date=parent.get('startDate'),
        end_date=parent.get('endingDate'),
    )


def is_scheduled_command_retry() -> bool:
    """True when this run is a scheduled (polling) re-run of a command."""
    return bool(get_schedule_metadata(demisto.callingContext.get('context') or {}).get('is_polling', False))


# ============================================================================================================
# Argument conversion
# ============================================================================================================

def _list_from_string(text: str, separator: str) -> List[Any]:
    """A JSON array when the string looks like one and parses; otherwise the stripped separated parts."""
    if text.startswith('[') and text.endswith(']'):
        try:
            return json.loads(text)
        except ValueError:
            demisto.debug(f'Failed to load {text} as JSON, trying to split')
    return [part.strip() for part in text.split(separator)]


def argToList(arg: Any, separator: str = ',', transform: Callable[[Any], Any] | None = None) -> List[Any]:
    """Turn an argument into a list: lists as is, JSON arrays parsed, other strings split and stripped."""
    if not arg:
        return []
    if isinstance(arg, list):
        result = arg
    elif isinstance(arg, (str, bytes)):
        result = _list_from_string(arg.decode('utf-8') if isinstance(arg, bytes) else arg, separator)
    else:
        result = [arg]
    return [transform(item) for item in result] if transform else result


def remove_duplicates_from_list_arg(args: Dict[str, Any], field: str) -> List[Any]:
    return list(set(argToList(args.get(field))))


def argToBoolean(value: Any) -> bool:
    """Booleans as is; 'true'/'yes' and 'false'/'no' in any case; anything else raises ValueError."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.lower()
        if lowered in ('true', 'yes'):
            return True
        if lowered in ('false', 'no'):
            return False
        raise ValueError('Argument does not contain a valid boolean-like value')
    raise ValueError('Argument is neither a string nor a boolean')


def _missing_argument(arg_name: str | None) -> ValueError:
    return ValueError(f'Missing "{arg_name}"' if arg_name else 'Missing required argument')


def arg_to_number(arg: Any, arg_name: str | None = None, required: bool = False) -> int | None:
    """Convert an argument to int. Digit strings and float strings convert; a float *object* is rejected."""
    if arg is None or arg == '':
        if required:
            raise _missing_argument(arg_name)
        return None
    if isinstance(arg, str):
        if arg.isdigit():
            # As the platform: a string of Unicode digits ('¹') fails here with Python's own int() message.
            return int(arg)
        try:
            return int(float(arg))
        except (ValueError, OverflowError):  # '1e309' is infinity
            pass
    elif isinstance(arg, int):
        return arg
    raise ValueError(f'Invalid number: "{arg_name}"="{arg}"' if arg_name else f'"{arg}" is not a valid number')


def arg_to_datetime(arg: Any, arg_name: str | None = None, is_utc: bool = True, required: bool = False,
                    settings: Dict[str, Any] | None = None) -> datetime | None:
    """Convert an argument to a datetime.

    Numbers (and digit strings) are epoch times; values above 2e9 are taken as milliseconds. Other strings go
    through dateparser, so ISO dates and relative phrases such as "3 days" both work.
    """
    if arg is None:
        if required:
            raise _missing_argument(arg_name)
        return None
    if (isinstance(arg, str) and arg.isdigit()) or (isinstance(arg, (int, float)) and not isinstance(arg, bool)):
        seconds = float(arg)
        if seconds > 2000000000.0:
            seconds /= 1000.0
        # Beyond the platform's time range Python's own OverflowError/ValueError propagates, as on the platform.
        return datetime.fromtimestamp(seconds, tz=_UTC) if is_utc else datetime.fromtimestamp(seconds)
    if isinstance(arg, str):
        parsed = dateparser.parse(arg, settings=settings or {'TIMEZONE': 'UTC'})
        if parsed is not None:
            return parsed
    raise ValueError(f'Invalid date: "{arg_name}"="{arg}"' if arg_name else f'"{arg}" is not a valid date')


# ============================================================================================================
# Time helpers
# ============================================================================================================

def get_current_time(time_zone: float = 0) -> datetime:
    """Now, shifted by ``time_zone`` hours, as an aware datetime (tzinfo UTC, as the platform returns it)."""
    return datetime.now(_UTC) + timedelta(hours=time_zone)


def timestamp_to_datestring(timestamp: Union[int, str], date_format: str = '%Y-%m-%dT%H:%M:%S.000Z',
                            is_utc: bool = False) -> str:
    """Epoch milliseconds to a string; UTC when asked or when the format ends with Z, else local time."""
    seconds = int(timestamp) / 1000.0
    if is_utc or date_format.endswith('Z'):
        return datetime.fromtimestamp(seconds, tz=_UTC).strftime(date_format)
    return datetime.fromtimestamp(seconds).strftime(date_format)


def date_to_timestamp(date_str_or_dt: Union[str, datetime], date_format: str = '%Y-%m-%dT%H:%M:%S') -> int:
    """A local-time date string (or naive datetime) to epoch milliseconds."""
    if isinstance(date_str_or_dt, str):
        return int(time.mktime(time.strptime(date_str_or_dt, date_format)) * 1000)
    return int(time.mktime(date_str_or_dt.timetuple()) * 1000)


def epochToTimestamp(epoch: Union[int, float]) -> str:
    """Epoch milliseconds to a UTC ``%Y-%m-%d %H:%M:%S`` string."""
    return datetime.fromtimestamp(epoch / 1000.0, tz=_UTC).strftime('%Y-%m-%d %H:%M:%S')


def FormatIso8601(t: datetime) -> str:
    return t.strftime('%Y-%m-%dT%H:%M:%S')


_RANGE_UNITS = {'minute': timedelta(minutes=1), 'hour': timedelta(hours=1), 'day': timedelta(days=1),
                'month': timedelta(days=30), 'year': timedelta(days=365)}


def parse_date_range(date_range: str, date_format: str | None = None, to_timestamp: bool = False,
                     timezone: float = 0, utc: bool = True) -> tuple[Any, Any]:
    """Deprecated: ``'3 days'`` -> (start, end). Bad input is reported through return_error, as the platform does."""
    parts = date_range.strip().split(' ')
    if len(parts) != 2:
        return_error('date_range must be "number date_range_unit", examples: (2 hours, 4 minutes,6 months, 1 day, etc.)')
    try:
        number = int(parts[0])
    except ValueError:
        return_error('The time value is invalid. Must be an integer.')
    unit = parts[1].lower().rstrip('s')
    if unit not in _RANGE_UNITS:
        return_error('The unit of date_range is invalid. Must be minutes, hours, days, months or years.')
    now = datetime.now(_UTC).replace(tzinfo=None) if utc else datetime.now()
    end_time = now + timedelta(hours=timezone)
    start_time = end_time - number * _RANGE_UNITS[unit]
    if to_timestamp:
        return date_to_timestamp(start_time), date_to_timestamp(end_time)
    if date_format:
        return start_time.strftime(date_format), end_time.strftime(date_format)
    return start_time, end_time


# ============================================================================================================
# Logging with secret masking
# ============================================================================================================

# A parameter whose name contains one of these is a secret; its value never reaches the log.
SENSITIVE_PARAM_NAME_PARTS = ('key', 'private', 'password', 'secret', 'token', 'credentials', 'service_account')


class IntegrationLogger:
    """The ``LOG`` object: a buffered, secret-masking logger.

    ``LOG(msg)`` masks and buffers the message (and also sends it to ``demisto.debug`` in debug mode);
    ``LOG.print_log()`` flushes the buffer to ``demisto.info``. Secret parameter values are registered when the
    logger is built; values learnt at run time (access and refresh tokens) are added with ``add_replace_strs``.
    """

    def __init__(self, debug_logging: bool = False) -> None:
        self.messages: List[str] = []
        self.write_buf: List[str] = []
        self.replace_strs: List[str] = []
        self.curl: List[str] = []
        self.buffering = True
        self.debug_logging = debug_logging
        if not os.getenv('COMMON_SERVER_NO_AUTO_REPLACE_STRS') and hasattr(demisto, 'params'):
            params = demisto.params()
            if params:
                self._collect_sensitive_params(params)

    def _collect_sensitive_params(self, params: Dict[str, Any]) -> None:
        """Register secret-looking values: by parameter name, recursing into credential (type 9) dicts."""
        for name, value in params.items():
            if isinstance(value, dict):
                self._collect_sensitive_params(value)
                if value.get('identifier') and value.get('password'):
                    self.add_replace_strs(b64_encode(f"{value['identifier']}:{value['password']}"))
            elif isinstance(value, str) and any(part in name.lower() for part in SENSITIVE_PARAM_NAME_PARTS):
                self.add_replace_strs(value, b64_encode(value))

    def encode(self, message: Any) -> str:
        """str() the message and mask every registered secret (longest first, so no partial leaks)."""
        try:
            text = str(message)
        except Exception as exc:  # a broken __str__ must not break logging
            text = f'Failed encoding message with error: {exc}'
        for secret in sorted(self.replace_strs, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text

    def __call__(self, message: Any) -> str:
        text = self.encode(message)
        if self.buffering:
            self.messages.append(text)
            if self.debug_logging:
                demisto.debug(text)
        else:
            demisto.info(text)
        return text

    def add_replace_strs(self, *args: Any) -> None:
        """Register run-time secrets, with the escaped/encoded spellings they take in logs and URLs."""
        for arg in args:
            if not arg:
                continue
            secret = str(arg)  # not self.encode(): a secret containing another one must be registered whole
            variants = {secret, stringEscape(secret), stringUnEscape(secret), doubleBackslashes(secret),
                        json.dumps(secret)[1:-1], urllib.parse.quote_plus(secret)}
            self.replace_strs.extend(v for v in variants if v and v not in self.replace_strs)

    def set_buffering(self, state: bool) -> None:
        """Buffer messages (default) or write each one straight to ``demisto.info``."""
        self.buffering = state

    def print_log(self, verbose: bool = False) -> None:
        """Flush buffered messages to the server log (and the war room when ``verbose``)."""
        if self.write_buf:
            self.messages.append(''.join(self.write_buf))
            self.write_buf = []
        if not self.messages:
            return
        text = 'Full Integration Log:\n' + '\n'.join(self.messages)
        if verbose:
            demisto.log(text)
        if not self.debug_logging:
            demisto.info(text)
        self.messages = []

    def write(self, msg: str) -> None:
        """File-like interface, so the logger can stand in for stdout; emits on each newline."""
        text = self.encode(msg)
        self.write_buf.append(text[:-1] if text.endswith('\n') else text)
        if '\n' not in text:
            return
        line = ''.join(self.write_buf)
        self.write_buf = []
        if self.buffering:
            self.messages.append(line)
            if self.debug_logging:
                demisto.debug(line)
        else:
            demisto.info(line)

    def print_override(self, *args: Any, **kwargs: Any) -> None:
        """A ``print`` replacement that routes stdout/stderr output into the log."""
        import builtins
        target = kwargs.get('file')
        if target in (None, sys.stdout, sys.stderr):
            kwargs['file'] = self
        builtins.print(*args, **kwargs)  # the target is this logger or the caller's own file


def mask_secrets(text: Any) -> str:
    """Return ``text`` with every secret LOG knows masked.

    Local helper (not part of the platform library): use it in this repository's tooling, not in integrations.
    """
    return LOG.encode(text)


def add_sensitive_log_strs(sensitive_str: str) -> None:
    """Register a secret learnt at run time (e.g. a token) so that LOG masks it."""
    LOG.add_replace_strs(sensitive_str)


def formatAllArgs(args: Iterable[Any], kwds: Dict[str, Any]) -> str:
    """A compact string of a call's arguments, in the platform's format: reprs joined by commas, then the keyword
    arguments rendered like a dict with ':' turned into '=' and every space removed ("'a'=1,'b'='x'")."""
    positional = ','.join(repr(a) for a in args)
    rendered = ', '.join(f'{k!r}: {v!r}' for k, v in kwds.items())
    keyword = rendered.replace(':', '=').replace(' ', '')
    return f'{positional},{keyword}'


def logger(func: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: log each call of ``func`` (and, in debug mode, its return value) through LOG. As on the platform
    the wrapper is not functools.wraps-ed."""
    def func_wrapper(*args: Any, **kwargs: Any) -> Any:
        LOG(f'calling {func.__name__}({formatAllArgs(args, kwargs)})')
        result = func(*args, **kwargs)
        if is_debug_mode():
            LOG(f'Return value [{func.__name__}]: {result}')
        return result
    return func_wrapper


# ============================================================================================================
# Markdown tables
# ============================================================================================================

MARKDOWN_CHARS = r'\`*_{}[]()#+-!|'


def stringEscapeMD(st: str, minimal_escaping: bool = False, escape_multiline: bool = False) -> str:
    """Escape markdown: line breaks become <br> (when asked), then | and ` (minimal) or every markdown char."""
    if escape_multiline:
        st = st.replace('\r\n', '<br>').replace('\r', '<br>').replace('\n', '<br>')
    if minimal_escaping:
        return st.replace('|', '\\|').replace('`', '\\`')
    return ''.join('\\' + c if c in MARKDOWN_CHARS else c for c in st)


def flattenCell(data: Any, is_pretty: bool = True) -> str:
    """One cell's text: strings as is, lists joined with ',\\n', anything else as JSON."""
    if isinstance(data, (str, bytes)):
        return data.decode('utf-8') if isinstance(data, bytes) else data
    if isinstance(data, list):
        return ',\n'.join(item.decode('utf-8') if isinstance(item, bytes) else str(item) for item in data)
    return json.dumps(data, indent=4 if is_pretty else None, ensure_ascii=False, default=str)


class JsonTransformer:
    """How a complex cell value is rendered in a markdown table.

    ``flatten=True`` is the classic rendering (``key: value`` lines). Otherwise nested JSON becomes an indented
    outline: ``**key**:`` for objects, ``**-**`` for list items and ``***leaf***: value`` for values, optionally
    limited to ``keys`` (searched at any depth when ``is_nested``). ``func`` replaces the rendering entirely.
    """

    def __init__(self, flatten: bool = False, keys: Iterable[str] | None = None, is_nested: bool = False,
                 func: Callable[[Any], str] | None = None) -> None:
        self.keys = set(keys or [])
        self.is_nested = is_nested
        self.func = func
        self.flatten = flatten

    def json_to_str(self, json_input: Any, is_pretty: bool = True) -> str:
        if self.func:
            return self.func(json_input)
        if isinstance(json_input, (str, bytes)):
            return flattenCell(json_input)
        if self.flatten:
            if isinstance(json_input, dict):
                return '\n'.join(f'{k}: {flattenCell(v, is_pretty)}' for k, v in json_input.items())
            return flattenCell(json_input, is_pretty)
        return self._outline(json_input, is_pretty)

    def _outline(self, json_input: Any, is_pretty: bool) -> str:
        lines: List[str] = []
        previous: List[Any] = []
        for path, key, value in self.json_to_path_generator(json_input):
            header = ''
            indent = '\t' * len(path)
            if path != previous:
                shared = 0
                while shared < min(len(path), len(previous)) and path[shared] == previous[shared]:
                    shared += 1
                for depth, step in enumerate(path[shared:], start=shared):
                    header += '\t' * depth + ('**-**' if isinstance(step, int) else f'**{step}**:\n')
                previous = path
                if path and isinstance(path[-1], int):
                    indent = '\t'
            lines.append(f'{header}{indent}***{key}***: {flattenCell(value, is_pretty)}')
        return '\n'.join(lines)

    def json_to_path_generator(self, json_input: Any, path: List[Any] | None = None) -> Any:
        """Yield ``(path, key, value)`` for each leaf that should be shown."""
        path = path or []
        in_selected = not self.keys or any(step in self.keys for step in path)
        if isinstance(json_input, dict):
            for key, value in json_input.items():
                if in_selected or key in self.keys:
                    if isinstance(value, (dict, list)):
                        yield from self.json_to_path_generator(value, path + [key])
                    else:
                        yield path, key, value
                elif self.is_nested:
                    yield from self.json_to_path_generator(value, path + [key])
        elif isinstance(json_input, list):
            if not json_input or not isinstance(json_input[0], (dict, list)):
                yield path, 'values', ', '.join(str(item) for item in json_input)
            else:
                for index, item in enumerate(json_input):
                    yield from self.json_to_path_generator(item, path + [index])


def formatCell(data: Any, is_pretty: bool = True, json_transform: JsonTransformer | None = None) -> str:
    """Render one table cell (flattened by default)."""
    return (json_transform or JsonTransformer(flatten=True)).json_to_str(data, is_pretty)


def create_clickable_url(url: Any, text: Any = None) -> Any:
    """``[text](url)`` markdown link(s) for a URL or a list of URLs."""
    if not url:
        return None
    if isinstance(url, list):
        labels = text if isinstance(text, list) else url
        if len(labels) != len(url):
            raise ValueError('The URL list and the text list must be the same length.')
        return [f'[{label}]({item})' for label, item in zip(labels, url, strict=True)]
    return f'[{text or url}]({url})'


def url_to_clickable_markdown(data: Any, url_keys: List[str]) -> Any:
    """Recursively turn the values under ``url_keys`` into clickable markdown links."""
    if isinstance(data, list):
        return [url_to_clickable_markdown(item, url_keys) for item in data]
    if isinstance(data, dict):
        return {k: create_clickable_url(v) if k in url_keys else url_to_clickable_markdown(v, url_keys)
                for k, v in data.items()}
    return data


def _table_rows_and_headers(t: Any, headers: Any, sort_headers: bool) -> tuple[List[Dict[str, Any]], List[str]]:
    """Normalise tableToMarkdown's flexible input into a list of row dicts and the header list."""
    if not headers and isinstance(t, dict) and len(t) == 1:
        headers = list(t.keys())
        t = list(t.values())[0]
    rows = t if isinstance(t, list) else [t]
    if isinstance(headers, (str, bytes)):
        headers = [headers]
    if rows and not isinstance(rows[0], dict):
        if not headers:
            raise Exception("Missing headers param for tableToMarkdown. Example: headers=['Some Header']")
        rows = [{headers[0]: item} for item in rows]
    if not headers:
        headers = list(rows[0].keys()) if rows else []
        if sort_headers:
            headers.sort()
    return rows, list(headers)


def _format_date_fields(row: Dict[str, Any], date_fields: List[str] | None) -> Dict[str, Any]:
    """Epoch-millisecond values in ``date_fields`` become local ``%Y-%m-%d %H:%M:%S`` strings."""
    row = dict(row)
    for field in date_fields or []:
        try:
            row[field] = datetime.fromtimestamp(int(row[field]) / 1000).strftime('%Y-%m-%d %H:%M:%S')
        except (KeyError, TypeError, ValueError, OverflowError, OSError):
            continue
    return row


def tableToMarkdown(name: str, t: Any, headers: Any = None, headerTransform: Callable[[str], str] | None = None,
                    removeNull: bool = False, metadata: str | None = None, url_keys: List[str] | None = None,
                    date_fields: List[str] | None = None,
                    json_transform_mapping: Dict[str, JsonTransformer] | None = None,
                    is_auto_json_transform: bool = False, sort_headers: bool = True) -> str:
    """Render a dict or a list of dicts as the markdown table the war room displays.

    ``headers`` picks and orders columns (default: the first row's keys, sorted when ``sort_headers``);
    ``removeNull`` drops all-empty columns. Cells are flattened (lists joined with ',\\n', dicts as ``k: v``
    lines), then ``|`` and backticks are escaped and line breaks become ``<br>``.
    """
    if url_keys:
        t = url_to_clickable_markdown(t, url_keys)
    result = f'### {name}\n' if name else ''
    if metadata:
        result += metadata + '\n'
    if not t:
        return result + '**No entries.**\n'

    rows, headers = _table_rows_and_headers(t, headers, sort_headers)
    if removeNull:
        headers = [h for h in headers if not all(row.get(h) in ('', None, [], {}) for row in rows)]
    if not rows or not headers:
        return result + '**No entries.**\n'

    transformers = json_transform_mapping or {h: JsonTransformer(flatten=not is_auto_json_transform) for h in headers}
    transform_header = headerTransform or (lambda header: stringEscapeMD(header, True, True))
    result += '|' + '|'.join(transform_header(h) for h in headers) + '|\n'
    result += '|' + '|'.join('---' for _ in headers) + '|\n'
    for raw_row in rows:
        row = _format_date_fields(raw_row, date_fields)
        cells = [stringEscapeMD(formatCell(row[h], False, transformers.get(h)) if row.get(h) is not None else '', True, True)
                 for h in headers]
        result += '| ' + ' | '.join(cells) + ' |\n'
    return result


tblToMd = tableToMarkdown


def createContextSingle(obj: Dict[str, Any], id: Any = None, keyTransform: Callable[[str], str] | None = None,
                        removeNull: bool = False) -> Dict[str, Any]:
    """Expand dotted keys (``a.b``) into nested dicts."""
    result: Dict[str, Any] = {}
    for key, value in obj.items():
        if removeNull and value in ('', None, [], {}):
            continue
        *parents, leaf = key.split('.')
        node = result
        for parent in parents:
            node = node.setdefault(parent, {})
        node[keyTransform(leaf) if keyTransform else leaf] = value
    if id is not None:
        result.setdefault('ID', id)
    return result


def createContext(data: Any, id: Any = None, keyTransform: Callable[[str], str] | None = None,
                  removeNull: bool = False) -> Any:
    """``createContextSingle`` for a dict or each dict of a list."""
    if isinstance(data, (list, tuple)):
        return [createContextSingle(item, id, keyTransform, removeNull) for item in data]
    return createContextSingle(data, id, keyTransform, removeNull)


# ============================================================================================================
# Server version
# ============================================================================================================

class GetDemistoVersion:
    """Callable returning ``demisto.demistoVersion()``, cached in ``_version`` (tests reset it to None)."""

    def __init__(self) -> None:
        self._version: Dict[str, Any] | None = None

    def __call__(self) -> Dict[str, Any]:
        if self._version is None:
            if not hasattr(demisto, 'demistoVersion'):
                raise AttributeError('demistoVersion attribute not found.')
            self._version = demisto.demistoVersion()
        return self._version


get_demisto_version = GetDemistoVersion()


def get_demisto_version_as_str() -> str:
    """``<version>-<build>`` for display, or 'Unknown'."""
    try:
        version = get_demisto_version()
    except AttributeError:
        return 'Unknown'
    return f"{version.get('version', 'Unknown')}-{version.get('buildNumber', 'Unknown')}"


def _version_key(version: str) -> tuple[str, ...]:
    """Zero-filled parts, so that 6.10 compares above 6.5."""
    return tuple(part.zfill(8) for part in version.split('.'))


def is_demisto_version_ge(version: str, build_number: str = '') -> bool:
    """True when the server version is >= ``version`` (build numbers break ties; dev builds count as newer)."""
    server: Dict[str, Any] = {}
    try:
        server = get_demisto_version()
        mine, wanted = _version_key(server.get('version') or ''), _version_key(version)
        if mine != wanted:
            return mine > wanted
        return int(server.get('buildNumber')) >= int(build_number) if build_number else True  # type: ignore[arg-type]
    except AttributeError:
        if version >= '5.0.0':
            return False
        raise
    except ValueError:
        demisto.debug(f'is_demisto_version_ge: ValueError. input: {version} build number: {build_number} server: {server}')
        return True


# ============================================================================================================
# Integration context, last run
# ============================================================================================================

CONTEXT_UPDATE_RETRY_TIMES = 3
MIN_VERSION_FOR_VERSIONED_CONTEXT = '6.0.0'


def is_versioned_context_available() -> bool:
    return is_demisto_version_ge(MIN_VERSION_FOR_VERSIONED_CONTEXT)


def get_integration_context(sync: bool = True, with_version: bool = False) -> Dict[str, Any]:
    """The instance's integration context (the versioned API on servers >= 6.0.0).

    With ``with_version`` the raw ``{'context': ..., 'version': n}`` object is returned.
    """
    if not is_versioned_context_available():
        return demisto.getIntegrationContext()
    versioned = demisto.getIntegrationContextVersioned(sync)
    return versioned if with_version else versioned.get('context', {})


def set_integration_context(context: Dict[str, Any], sync: bool = True, version: Any = -1) -> Any:
    """Store the integration context; with a version the server rejects stale writes (ValueError)."""
    if is_versioned_context_available():
        demisto.debug(f'Updating integration context with version {version}. Sync: {sync}')
        return demisto.setIntegrationContextVersioned(context, version, sync)
    return demisto.setIntegrationContext(context)


def get_integration_context_with_version(sync: bool = True) -> tuple[Dict[str, Any], Any]:
    """(context, version); version is -1 on servers without versioned context."""
    latest = get_integration_context(sync, with_version=True)
    if is_versioned_context_available():
        return latest.get('context', {}), latest.get('version', 0) if sync else -1
    return latest, -1


def merge_lists(original_list: List[Dict[str, Any]], updated_list: List[Dict[str, Any]], key: str) -> List[Dict[str, Any]]:
    """Merge by ``key``: updated items replace originals; items flagged ``remove: True`` are dropped."""
    merged = {item[key]: item for item in original_list}
    merged.update({item[key]: item for item in updated_list})
    return [item for item in merged.values() if item.get('remove', False) is not True]


def update_integration_context(context: Dict[str, Any], object_keys: Dict[str, str] | None = None,
                               sync: bool = True) -> tuple[Dict[str, Any], Any]:
    """Merge ``context`` (JSON-string values) into the latest stored context; returns (context, version)."""
    integration_context, version = get_integration_context_with_version(sync)
    object_keys = object_keys or {}
    for key, value in context.items():
        if key in object_keys:
            latest = json.loads(integration_context.get(key, '[]'))
            integration_context[key] = json.dumps(merge_lists(latest, value, object_keys[key]))
        else:
            integration_context[key] = json.dumps(value)
    return integration_context, version


def set_to_integration_context_with_retries(context: Dict[str, Any], object_keys: Dict[str, str] | None = None,
                                            sync: bool = True, max_retry_times: int = CONTEXT_UPDATE_RETRY_TIMES) -> None:
    """Merge-and-set with optimistic concurrency: on a version conflict, re-read and retry."""
    for attempt in range(1, max_retry_times + 1):
        integration_context, version = update_integration_context(context, object_keys, sync)
        try:
            set_integration_context(integration_context, sync, version)
            return
        except ValueError as error:
            demisto.debug(f'Failed updating integration context with version {version}: {error} '
                          f'Attempts left - {max_retry_times - attempt}')
            time.sleep(_random.uniform(0.001, 0.1))  # noqa: S311 - jitter, not cryptography
    raise Exception('Failed updating integration context. Max retry attempts exceeded.')


def get_feed_last_run() -> Dict[str, Any]:
    """A feed's last run, migrating an old integration-context-based one if needed."""
    last_run = demisto.getLastRun() or {}
    if not last_run:
        legacy = demisto.getIntegrationContext()
        if legacy:
            last_run = legacy
            demisto.setLastRun(last_run)
            demisto.setIntegrationContext({})
    return last_run


def set_feed_last_run(last_run_indicators: Dict[str, Any]) -> None:
    demisto.setLastRun(last_run_indicators)


def get_last_mirror_run() -> Dict[str, Any] | None:
    if is_demisto_version_ge('6.6.0'):
        return demisto.getLastMirrorRun() or {}
    raise DemistoException('You cannot use getLastMirrorRun as your version is below 6.6.0')


def set_last_mirror_run(last_mirror_run: Dict[str, Any]) -> None:
    if not is_demisto_version_ge('6.6.0'):
        raise DemistoException('You cannot use setLastMirrorRun as your version is below 6.6.0')
    demisto.setLastMirrorRun(last_mirror_run)


# ============================================================================================================
# Proxy and certificate environment
# ============================================================================================================

_PROXY_ENV_VARS = ('HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy')
_PROXY_SCHEMES = ('http://', 'https://', 'socks5://', 'socks5h://', 'socks4://', 'socks4a://')


def add_http_prefix_if_missing(address: str = '') -> str:
    """The server may set proxy variables without a scheme; requests needs one."""
    if not address:
        return ''
    return address if address.startswith(_PROXY_SCHEMES) else 'http://' + address


def ensure_proxy_has_http_prefix() -> None:
    for name in _PROXY_ENV_VARS:
        if os.environ.get(name):
            os.environ[name] = add_http_prefix_if_missing(os.environ[name])


def skip_proxy() -> None:
    """Remove the proxy variables so requests goes direct (the 'Use system proxy' box is clear)."""
    for name in _PROXY_ENV_VARS:
        os.environ.pop(name, None)


def skip_cert_verification() -> None:
    """Remove the CA-bundle variables: when set, requests would ignore ``verify=False``."""
    for name in ('REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE'):
        os.environ.pop(name, None)


def handle_proxy(proxy_param_name: str = 'proxy', checkbox_default_value: bool = False, handle_insecure: bool = True,
                 insecure_param_name: str | None = None) -> Dict[str, str]:
    """Apply the instance's proxy and insecure checkboxes to the environment; return a requests proxies dict."""
    params = demisto.params()
    proxies: Dict[str, str] = {}
    if params.get(proxy_param_name, checkbox_default_value):
        ensure_proxy_has_http_prefix()
        proxies = {
            'http': os.environ.get('HTTP_PROXY') or os.environ.get('http_proxy', ''),
            'https': os.environ.get('HTTPS_PROXY') or os.environ.get('https_proxy', ''),
        }
    else:
        skip_proxy()
    if handle_insecure:
        names = (insecure_param_name,) if insecure_param_name else ('insecure', 'unsecure')
        if any(params.get(name, False) for name in names):
            skip_cert_verification()
    return proxies


def get_x_content_info_headers() -> Dict[str, str]:
    """X-Content-* headers identifying the calling content to services such as the OAuth proxy."""
    context = demisto.callingContext.get('context') or {}
    return {
        'X-Content-Version': CONTENT_RELEASE_VERSION,
        'X-Content-Name': context.get('IntegrationBrand') or context.get('IntegrationInstance') or 'Name not found',
        'X-Content-LicenseID': demisto.getLicenseID(),
        'X-Content-Branch': CONTENT_BRANCH_NAME,
        'X-Content-Server-Version': get_demisto_version_as_str(),
    }


class DemistoException(Exception):
    """The exception integrations raise and catch; ``str(e)`` is the message alone."""

    def __init__(self, message: Any, exception: BaseException | None = None, res: Any = None,
                 error_type: Any = None, *args: Any) -> None:
        self.res = res
        self.message = message
        self.exception = exception
        self.error_type = error_type
        super().__init__(message, exception, error_type, *args)

    def __str__(self) -> str:
        return str(self.message)


# ============================================================================================================
# Indicators (the standard context of reputation commands)
# ============================================================================================================

def _truthy_fields(obj: Any, pairs: Iterable[tuple[str, str]]) -> Dict[str, Any]:
    """{ContextKey: value} for each (ContextKey, attribute) whose value is truthy."""
    return {key: getattr(obj, attr) for key, attr in pairs if getattr(obj, attr, None)}


def _present_fields(obj: Any, pairs: Iterable[tuple[str, str]]) -> Dict[str, Any]:
    """Like _truthy_fields, but keeps 0 and False (counts, booleans): only None is skipped."""
    return {key: getattr(obj, attr) for key, attr in pairs if getattr(obj, attr, None) is not None}


def _table_fields(obj: Any, pairs: Iterable[tuple[str, str]]) -> Dict[str, Any]:
    """{ContextKey: [item.to_context(), ...]} for each non-empty list of value objects."""
    return {key: [item.to_context() for item in getattr(obj, attr)] for key, attr in pairs if getattr(obj, attr, None)}


def _all_or_nothing(values: Dict[str, Any]) -> Dict[str, Any] | None:
    """A sub-object emitted with all its keys (None included) as soon as one of them has a value."""
    return values if any(values.values()) else None


class _ValueObject:
    """A small record whose context is a fixed mapping of context keys to constructor arguments."""
    _CONTEXT: tuple[tuple[str, str], ...] = ()

    def to_context(self) -> Dict[str, Any]:
        return {key: getattr(self, attr) for key, attr in self._CONTEXT}


class Common:
    """Namespace of the standard indicator classes (IP, Domain, URL, File ...) and their building blocks."""

    class Indicator:
        """Base of all indicators: ``to_context()`` returns ``{DT key: context, DBotScore key: score}``."""

        @abstractmethod
        def to_context(self) -> Dict[str, Any]:
            raise NotImplementedError

        @staticmethod
        def create_context_table(data: Iterable[Any]) -> List[Dict[str, Any]]:
            return [item.to_context() for item in data]

        _FIELDS: tuple[str, ...] = ()

        if _TYPE_CHECKING:
            # Optional fields are set dynamically from _FIELDS; let type checkers accept them.
            def __getattr__(self, name: str) -> Any: ...

        def _assign(self, fields: Dict[str, Any], args: tuple[Any, ...] = ()) -> None:
            """Set every optional field (None when absent). As on the platform, optional fields may also be passed
            positionally, in the declared order; unknown names and surplus arguments fail with TypeError."""
            if len(args) > len(self._FIELDS):
                raise TypeError(f'{type(self).__name__}() takes at most {len(self._FIELDS)} optional positional '
                                f'arguments ({len(args)} given)')
            for name, value in zip(self._FIELDS, args, strict=False):
                if name in fields:
                    raise TypeError(f"{type(self).__name__}() got multiple values for argument '{name}'")
                fields[name] = value
            unknown = set(fields) - set(self._FIELDS)
            if unknown:
                raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument '{sorted(unknown)[0]}'")
            for name in self._FIELDS:
                setattr(self, name, fields.get(name))

        def _finish(self, context_path: str, context: Dict[str, Any]) -> Dict[str, Any]:
            """Add the shared parts (Malicious on a BAD score, Relationships) and the DBotScore entry."""
            dbot_score = getattr(self, 'dbot_score', None)
            if dbot_score and dbot_score.score == Common.DBotScore.BAD:
                context['Malicious'] = {'Vendor': dbot_score.integration_name,
                                        'Description': dbot_score.malicious_description}
            relationships = [r.to_context() for r in getattr(self, 'relationships', None) or [] if r.to_context()]
            if relationships:
                context['Relationships'] = relationships
            result = {context_path: context}
            if dbot_score:
                result.update(dbot_score.to_context())
            return result

        @staticmethod
        def _require_dbot_score(dbot_score: Any) -> Any:
            if not isinstance(dbot_score, Common.DBotScore):
                raise ValueError('dbot_score must be of type DBotScore')
            return dbot_score

    class DBotScore:
        """The reputation verdict of one indicator from one vendor."""
        NONE = 0
        GOOD = 1
        SUSPICIOUS = 2
        BAD = 3
        CONTEXT_PATH = ('DBotScore(val.Indicator && val.Indicator == obj.Indicator && val.Vendor == obj.Vendor '
                        '&& val.Type == obj.Type)')
        CONTEXT_PATH_PRIOR_V5_5 = 'DBotScore'

        def __init__(self, indicator: Any, indicator_type: str, integration_name: str | None = '', score: Any = None,
                     malicious_description: str | None = None, reliability: str | None = None,
                     message: str | None = None) -> None:
            if not DBotScoreType.is_valid_type(indicator_type):
                raise TypeError('indicator_type must be of type DBotScoreType enum')
            if not Common.DBotScore.is_valid_score(score):
                raise TypeError('indicator `score` must be of type DBotScore enum')
            if reliability and not DBotScoreReliability.is_valid_type(reliability):
                raise TypeError('reliability must be of type DBotScoreReliability enum')
            self.indicator = indicator
            self.indicator_type = indicator_type
            # In an integration the vendor is always the integration's brand.
            brand = get_integration_name() if demisto.callingContext.get('integration') else ''
            self.integration_name = brand or integration_name
            self.score = score
            self.malicious_description = malicious_description
            self.reliability = reliability
            self.message = message

        @staticmethod
        def is_valid_score(score: Any) -> bool:
            return score is not None and not isinstance(score, bool) and score in (0, 1, 2, 3)

        @staticmethod
        def get_context_path() -> str:
            return Common.DBotScore.CONTEXT_PATH

        def to_context(self) -> Dict[str, Any]:
            value = {'Indicator': self.indicator, 'Type': self.indicator_type, 'Vendor': self.integration_name,
                     'Score': self.score}
            value.update(_truthy_fields(self, (('Reliability', 'reliability'), ('Message', 'message'))))
            return {Common.DBotScore.get_context_path(): value}

        def to_readable(self) -> str:
            return {0: 'Unknown', 1: 'Good', 2: 'Suspicious', 3: 'Bad'}.get(self.score, 'Undefined')

    # ---- value objects used inside indicator contexts -----------------------------------------------------
    class CommunityNotes(_ValueObject):
        _CONTEXT = (('note', 'note'), ('timestamp', 'timestamp'))

        def __init__(self, note: Any = None, timestamp: Any = None) -> None:
            self.note, self.timestamp = note, timestamp

    class Publications(_ValueObject):
        _CONTEXT = (('source', 'source'), ('title', 'title'), ('link', 'link'), ('timestamp', 'timestamp'))

        def __init__(self, source: Any = None, title: Any = None, link: Any = None, timestamp: Any = None) -> None:
            self.source, self.title, self.link, self.timestamp = source, title, link, timestamp

    class ThreatTypes(_ValueObject):
        _CONTEXT = (('threatcategory', 'threat_category'), ('threatcategoryconfidence', 'threat_category_confidence'))

        def __init__(self, threat_category: Any = None, threat_category_confidence: Any = None) -> None:
            self.threat_category, self.threat_category_confidence = threat_category, threat_category_confidence

    class FeedRelatedIndicators(_ValueObject):
        _CONTEXT = (('value', 'value'), ('type', 'indicator_type'), ('description', 'description'))

        def __init__(self, value: Any = None, indicator_type: Any = None, description: Any = None) -> None:
            self.value, self.indicator_type, self.description = value, indicator_type, description

    class Hash(_ValueObject):
        _CONTEXT = (('type', 'hash_type'), ('value', 'hash_value'))

        def __init__(self, hash_type: Any = None, hash_value: Any = None) -> None:
            self.hash_type, self.hash_value = hash_type, hash_value

    class WhoisRecord(_ValueObject):
        _CONTEXT = (('key', 'whois_record_type'), ('value', 'whois_record_value'), ('date', 'whois_record_date'))

        def __init__(self, whois_record_type: Any = None, whois_record_value: Any = None,
                     whois_record_date: Any = None) -> None:
            self.whois_record_type, self.whois_record_value = whois_record_type, whois_record_value
            self.whois_record_date = whois_record_date

    class DNSRecord(_ValueObject):
        _CONTEXT = (('type', 'dns_record_type'), ('ttl', 'dns_ttl'), ('data', 'dns_record_data'))

        def __init__(self, dns_record_type: Any = None, dns_ttl: Any = None, dns_record_data: Any = None) -> None:
            self.dns_record_type, self.dns_ttl, self.dns_record_data = dns_record_type, dns_ttl, dns_record_data

    class Certificates(_ValueObject):
        _CONTEXT = (('issuedto', 'issued_to'), ('issuedby', 'issued_by'), ('validfrom', 'valid_from'),
                    ('validto', 'valid_to'))

        def __init__(self, issued_to: Any = None, issued_by: Any = None, valid_from: Any = None,
                     valid_to: Any = None) -> None:
            self.issued_to, self.issued_by, self.valid_from, self.valid_to = issued_to, issued_by, valid_from, valid_to

    class ExternalReference(_ValueObject):
        _CONTEXT = (('sourcename', 'source_name'), ('sourceid', 'source_id'))

        def __init__(self, source_name: Any = None, source_id: Any = None) -> None:
            self.source_name, self.source_id = source_name, source_id

    class Rank(_ValueObject):
        _CONTEXT = (('source', 'source'), ('rank', 'rank'))

        def __init__(self, rank: Any = None, source: Any = None) -> None:
            self.rank, self.source = rank, source

    class FileSignature(_ValueObject):
        _CONTEXT = (('Authentihash', 'authentihash'), ('Copyright', 'copyright'), ('Description', 'description'),
                    ('FileVersion', 'file_version'), ('InternalName', 'internal_name'), ('OriginalName', 'original_name'))

        def __init__(self, authentihash: Any, copyright: Any, description: Any, file_version: Any,
                     internal_name: Any, original_name: Any) -> None:
            self.authentihash, self.copyright, self.description = authentihash, copyright, description
            self.file_version, self.internal_name, self.original_name = file_version, internal_name, original_name

    class CPE(_ValueObject):
        """One Common Platform Enumeration string (CVE vulnerable products and configurations)."""
        _CONTEXT = (('CPE', 'cpe'),)

        def __init__(self, cpe: Any = None) -> None:
            self.cpe = cpe

    # ---- indicators -------------------------------------------------------------------------------------------
    class IP(Indicator):
        """IP address indicator (standard context ``IP``)."""
        CONTEXT_PATH = 'IP(val.Address && val.Address == obj.Address)'
        _FIELDS = (
            'asn', 'as_owner', 'region', 'port', 'internal', 'updated_date', 'registrar_abuse_name',
            'registrar_abuse_address', 'registrar_abuse_country', 'registrar_abuse_network', 'registrar_abuse_phone',
            'registrar_abuse_email', 'campaign', 'traffic_light_protocol', 'community_notes', 'publications',
            'threat_types', 'hostname', 'geo_latitude', 'geo_longitude', 'geo_country', 'geo_description',
            'detection_engines', 'positive_engines', 'organization_name', 'organization_type',
            'feed_related_indicators', 'tags', 'malware_family', 'relationships', 'blocked', 'description', 'stix_id',
            'whois_records', 'organization_prevalence', 'global_prevalence', 'organization_first_seen',
            'organization_last_seen', 'first_seen_by_source', 'last_seen_by_source', 'ip_type',
        )
        _TRUTHY = (('Blocked', 'blocked'), ('ASN', 'asn'), ('ASOwner', 'as_owner'), ('Region', 'region'), ('Port', 'port'),
                   ('Internal', 'internal'), ('STIXID', 'stix_id'), ('UpdatedDate', 'updated_date'),
                   ('Campaign', 'campaign'), ('Description', 'description'),
                   ('TrafficLightProtocol', 'traffic_light_protocol'), ('Hostname', 'hostname'), ('Tags', 'tags'),
                   ('MalwareFamily', 'malware_family'), ('OrganizationFirstSeen', 'organization_first_seen'),
                   ('OrganizationLastSeen', 'organization_last_seen'), ('FirstSeenBySource', 'first_seen_by_source'),
                   ('LastSeenBySource', 'last_seen_by_source'))
        _COUNTS = (('DetectionEngines', 'detection_engines'), ('PositiveDetections', 'positive_engines'),
                   ('OrganizationPrevalence', 'organization_prevalence'), ('GlobalPrevalence', 'global_prevalence'))
        _TABLES = (('CommunityNotes', 'community_notes'), ('Publications', 'publications'), ('ThreatTypes', 'threat_types'),
                   ('WhoisRecords', 'whois_records'), ('FeedRelatedIndicators', 'feed_related_indicators'))

        def __init__(self, ip: str, dbot_score: 'Common.DBotScore', *args: Any, **fields: Any) -> None:
            self.ip = ip
            self.dbot_score = self._require_dbot_score(dbot_score)
            self._assign(fields, args)
            self.ip_type: str = fields.get('ip_type') or 'IP'

        def to_context(self) -> Dict[str, Any]:
            context: Dict[str, Any] = {'Address': self.ip}
            context.update(_truthy_fields(self, self._TRUTHY))
            context.update(_present_fields(self, self._COUNTS))
            context.update(_table_fields(self, self._TABLES))
            abuse = _truthy_fields(self, (('Name', 'registrar_abuse_name'), ('Address', 'registrar_abuse_address'),
                                          ('Country', 'registrar_abuse_country'), ('Network', 'registrar_abuse_network'),
                                          ('Phone', 'registrar_abuse_phone'), ('Email', 'registrar_abuse_email')))
            if abuse:
                context['Registrar'] = {'Abuse': abuse}
            if self.geo_latitude or self.geo_country or self.geo_description:
                geo = _truthy_fields(self, (('Country', 'geo_country'), ('Description', 'geo_description')))
                if self.geo_latitude and self.geo_longitude:
                    geo['Location'] = f'{self.geo_latitude}:{self.geo_longitude}'
                context['Geo'] = geo
            organization = _truthy_fields(self, (('Name', 'organization_name'), ('Type', 'organization_type')))
            if organization:
                context['Organization'] = organization
            path = self.CONTEXT_PATH if self.ip_type == 'IP' else self.CONTEXT_PATH.replace('IP', self.ip_type)
            return self._finish(path, context)

    class Domain(Indicator):
        """Domain indicator (standard context ``Domain``, with the ``WHOIS`` sub-object)."""
        CONTEXT_PATH = 'Domain(val.Name && val.Name == obj.Name)'
        _FIELDS = (
            'dns', 'detection_engines', 'positive_detections', 'organization', 'sub_domains', 'creation_date',
            'updated_date', 'expiration_date', 'domain_status', 'name_servers', 'feed_related_indicators',
            'malware_family', 'registrar_name', 'registrar_abuse_email', 'registrar_abuse_phone', 'registrant_name',
            'registrant_email', 'registrant_phone', 'registrant_country', 'admin_name', 'admin_email', 'admin_phone',
            'admin_country', 'tags', 'domain_idn_name', 'port', 'internal', 'category', 'campaign',
            'traffic_light_protocol', 'threat_types', 'community_notes', 'publications', 'geo_location',
            'geo_country', 'geo_description', 'tech_country', 'tech_name', 'tech_email', 'tech_organization',
            'billing', 'whois_records', 'relationships', 'description', 'stix_id', 'blocked', 'certificates',
            'dns_records', 'rank', 'organization_prevalence', 'global_prevalence', 'organization_first_seen',
            'organization_last_seen', 'first_seen_by_source', 'last_seen_by_source',
        )
        _TRUTHY = (('DNS', 'dns'), ('Organization', 'organization'), ('Subdomains', 'sub_domains'), ('Tags', 'tags'),
                   ('MalwareFamily', 'malware_family'), ('DomainIDNName', 'domain_idn_name'), ('Port', 'port'),
                   ('Internal', 'internal'), ('Category', 'category'), ('Campaign', 'campaign'),
                   ('TrafficLightProtocol', 'traffic_light_protocol'), ('Billing', 'billing'), ('STIXID', 'stix_id'),
                   ('Description', 'description'),
                   ('OrganizationFirstSeen', 'organization_first_seen'), ('OrganizationLastSeen', 'organization_last_seen'),
                   ('FirstSeenBySource', 'first_seen_by_source'), ('LastSeenBySource', 'last_seen_by_source'))
        _COUNTS = (('DetectionEngines', 'detection_engines'), ('PositiveDetections', 'positive_detections'),
                   ('OrganizationPrevalence', 'organization_prevalence'), ('GlobalPrevalence', 'global_prevalence'))
        _TABLES = (('FeedRelatedIndicators', 'feed_related_indicators'), ('WhoisRecords', 'whois_records'),
                   ('ThreatTypes', 'threat_types'), ('CommunityNotes', 'community_notes'),
                   ('Publications', 'publications'), ('DNSRecords', 'dns_records'), ('Certificates', 'certificates'),
                   ('Rank', 'rank'))
        _WHOIS_DATES = (('DomainStatus', 'domain_status'), ('CreationDate', 'creation_date'),
                        ('UpdatedDate', 'updated_date'), ('ExpirationDate', 'expiration_date'),
                        ('NameServers', 'name_servers'))

        def __init__(self, domain: str, dbot_score: 'Common.DBotScore', *args: Any, **fields: Any) -> None:
            self.domain = domain
            self.dbot_score = self._require_dbot_score(dbot_score)
            self._assign(fields, args)

        def _whois(self) -> Dict[str, Any]:
            """The WHOIS facts, which the standard context repeats at the top level and under ``WHOIS``."""
            parties = {
                'Registrar': {'Name': self.registrar_name, 'AbuseEmail': self.registrar_abuse_email,
                              'AbusePhone': self.registrar_abuse_phone},
                'Registrant': {'Name': self.registrant_name, 'Email': self.registrant_email,
                               'Phone': self.registrant_phone, 'Country': self.registrant_country},
                'Admin': {'Name': self.admin_name, 'Email': self.admin_email, 'Phone': self.admin_phone,
                          'Country': self.admin_country},
            }
            whois = {name: values for name, values in parties.items() if _all_or_nothing(values)}
            whois.update(_truthy_fields(self, self._WHOIS_DATES))
            return whois

        def to_context(self) -> Dict[str, Any]:
            context: Dict[str, Any] = {'Name': self.domain}
            context.update(_truthy_fields(self, self._TRUTHY))
            context.update(_present_fields(self, self._COUNTS))
            context.update(_table_fields(self, self._TABLES))
            whois = self._whois()
            if whois:
                context.update(whois)
                context['WHOIS'] = dict(whois)
            geo = _truthy_fields(self, (('Location', 'geo_location'), ('Country', 'geo_country'),
                                        ('Description', 'geo_description')))
            if geo:
                context['Geo'] = geo
            tech = _truthy_fields(self, (('Country', 'tech_country'), ('Name', 'tech_name'),
                                         ('Organization', 'tech_organization'), ('Email', 'tech_email')))
            if tech:
                context['Tech'] = tech
            if self.stix_id:
                # The platform writes Blocked only when a STIX ID is set (its check tests stix_id): reproduced.
                context['Blocked'] = self.blocked
            return self._finish(self.CONTEXT_PATH, context)

    class URL(Indicator):
        """URL indicator (standard context ``URL``)."""
        CONTEXT_PATH = 'URL(val.Data && val.Data == obj.Data)'
        _FIELDS = (
            'detection_engines', 'positive_detections', 'category', 'feed_related_indicators', 'tags', 'malware_family',
            'port', 'internal', 'campaign', 'traffic_light_protocol', 'threat_types', 'asn', 'as_owner', 'geo_country',
            'organization', 'community_notes', 'publications', 'relationships', 'blocked', 'certificates',
            'description', 'stix_id', 'organization_prevalence', 'global_prevalence', 'organization_first_seen',
            'organization_last_seen', 'first_seen_by_source', 'last_seen_by_source',
        )
        _TRUTHY = (('Category', 'category'), ('Tags', 'tags'), ('MalwareFamily', 'malware_family'), ('Port', 'port'),
                   ('Internal', 'internal'), ('Campaign', 'campaign'), ('TrafficLightProtocol', 'traffic_light_protocol'),
                   ('ASN', 'asn'), ('ASOwner', 'as_owner'), ('Organization', 'organization'), ('Blocked', 'blocked'),
                   ('Description', 'description'), ('STIXID', 'stix_id'),
                   ('OrganizationFirstSeen', 'organization_first_seen'), ('OrganizationLastSeen', 'organization_last_seen'),
                   ('FirstSeenBySource', 'first_seen_by_source'), ('LastSeenBySource', 'last_seen_by_source'))
        _COUNTS = (('DetectionEngines', 'detection_engines'), ('PositiveDetections', 'positive_detections'),
                   ('OrganizationPrevalence', 'organization_prevalence'), ('GlobalPrevalence', 'global_prevalence'))
        _TABLES = (('FeedRelatedIndicators', 'feed_related_indicators'), ('ThreatTypes', 'threat_types'),
                   ('CommunityNotes', 'community_notes'), ('Publications', 'publications'),
                   ('Certificates', 'certificates'))

        def __init__(self, url: str, dbot_score: 'Common.DBotScore', *args: Any, **fields: Any) -> None:
            self.url = url
            self.dbot_score = self._require_dbot_score(dbot_score)
            self._assign(fields, args)

        def to_context(self) -> Dict[str, Any]:
            context: Dict[str, Any] = {'Data': self.url}
            context.update(_truthy_fields(self, self._TRUTHY))
            context.update(_present_fields(self, self._COUNTS))
            context.update(_table_fields(self, self._TABLES))
            if self.geo_country:
                context['Geo'] = {'Country': self.geo_country}
            return self._finish(self.CONTEXT_PATH, context)

    class File(Indicator):
        """File indicator (standard context ``File``, keyed on any of its hashes)."""
        CONTEXT_PATH = _FILE_DT
        _FIELDS = (
            'name', 'entry_id', 'size', 'md5', 'sha1', 'sha256', 'sha512', 'ssdeep', 'extension', 'file_type',
            'hostname', 'path', 'company', 'product_name', 'digital_signature__publisher', 'signature', 'actor',
            'tags', 'feed_related_indicators', 'malware_family', 'imphash', 'quarantined', 'campaign',
            'associated_file_names', 'traffic_light_protocol', 'organization', 'community_notes', 'publications',
            'threat_types', 'behaviors', 'relationships', 'creation_date', 'description', 'hashes', 'stix_id',
            'organization_prevalence', 'global_prevalence', 'organization_first_seen', 'organization_last_seen',
            'first_seen_by_source', 'last_seen_by_source',
        )
        _HASHES = (('MD5', 'md5'), ('SHA1', 'sha1'), ('SHA256', 'sha256'), ('SHA512', 'sha512'), ('SSDeep', 'ssdeep'),
                   ('Imphash', 'imphash'))
        _TRUTHY = (('Name', 'name'), ('EntryID', 'entry_id'), ('Size', 'size'), ('MD5', 'md5'), ('SHA1', 'sha1'),
                   ('SHA256', 'sha256'), ('SHA512', 'sha512'), ('SSDeep', 'ssdeep'), ('Extension', 'extension'),
                   ('Type', 'file_type'), ('Hostname', 'hostname'), ('Path', 'path'), ('Company', 'company'),
                   ('ProductName', 'product_name'), ('Actor', 'actor'), ('Tags', 'tags'),
                   ('MalwareFamily', 'malware_family'), ('Imphash', 'imphash'), ('Quarantined', 'quarantined'),
                   ('Campaign', 'campaign'), ('AssociatedFileNames', 'associated_file_names'),
                   ('TrafficLightProtocol', 'traffic_light_protocol'), ('Organization', 'organization'),
                   ('OrganizationFirstSeen', 'organization_first_seen'), ('OrganizationLastSeen', 'organization_last_seen'),
                   ('FirstSeenBySource', 'first_seen_by_source'), ('LastSeenBySource', 'last_seen_by_source'))
        _COUNTS = (('OrganizationPrevalence', 'organization_prevalence'), ('GlobalPrevalence', 'global_prevalence'))
        _TABLES = (('FeedRelatedIndicators', 'feed_related_indicators'), ('CommunityNotes', 'community_notes'),
                   ('Publications', 'publications'), ('ThreatTypes', 'threat_types'), ('Behavior', 'behaviors'))

        def __init__(self, dbot_score: Optional['Common.DBotScore'], *args: Any, **fields: Any) -> None:
            self.dbot_score = dbot_score
            self._assign(fields, args)

        def to_context(self) -> Dict[str, Any]:
            context: Dict[str, Any] = {}
            hashes = [h.to_context() for h in self.hashes or []]
            hashes += [{'type': kind, 'value': getattr(self, attr)} for kind, attr in self._HASHES if getattr(self, attr)]
            if hashes:
                context['Hashes'] = hashes
            context.update(_truthy_fields(self, self._TRUTHY))
            context.update(_present_fields(self, self._COUNTS))
            context.update(_table_fields(self, self._TABLES))
            if self.digital_signature__publisher:
                context['DigitalSignature'] = {'Publisher': self.digital_signature__publisher}
            if self.signature:
                context['Signature'] = self.signature.to_context()
            return self._finish(self.CONTEXT_PATH, context)

    class CVE(Indicator):
        """CVE indicator; without a ``dbot_score`` it gets a NONE score (CVEs have no reputation of their own)."""
        CONTEXT_PATH = 'CVE(val.ID && val.ID == obj.ID)'
        _FIELDS = ('relationships', 'stix_id', 'cvss_version', 'cvss_score', 'cvss_vector', 'cvss_table',
                   'community_notes', 'tags', 'traffic_light_protocol', 'dbot_score', 'publications',
                   'vulnerable_products', 'vulnerable_configurations')

        def __init__(self, id: str, cvss: Any, published: Any, modified: Any, description: Any,
                     *args: Any, **fields: Any) -> None:
            self.id, self.cvss, self.published, self.modified, self.description = id, cvss, published, modified, description
            self._assign(fields, args)
            given: Common.DBotScore | None = getattr(self, 'dbot_score', None)
            self.dbot_score = given or Common.DBotScore(
                indicator=id, indicator_type=DBotScoreType.CVE, integration_name=None, score=Common.DBotScore.NONE)

        def to_context(self) -> Dict[str, Any]:
            # CVSS is always present (empty without a score), and a CVE never carries Malicious: as the platform.
            cvss = _truthy_fields(self, (('Score', 'cvss'), ('Version', 'cvss_version'), ('Vector', 'cvss_vector'),
                                         ('Table', 'cvss_table')))
            if 'Score' not in cvss and self.cvss_score:
                cvss = {'Score': self.cvss_score, **cvss}
            context: Dict[str, Any] = {'ID': self.id, 'CVSS': cvss}
            context.update(_truthy_fields(self, (('Published', 'published'), ('Modified', 'modified'),
                                                 ('Description', 'description'), ('STIXID', 'stix_id'))))
            relationships = [r.to_context() for r in self.relationships or [] if r.to_context()]
            if relationships:
                context['Relationships'] = relationships
            context.update(_table_fields(self, (('CommunityNotes', 'community_notes'),)))
            context.update(_truthy_fields(self, (('Tags', 'tags'), ('TrafficLightProtocol', 'traffic_light_protocol'))))
            context.update(_table_fields(self, (('Publications', 'publications'),
                                                ('VulnerableProducts', 'vulnerable_products'),
                                                ('VulnerableConfigurations', 'vulnerable_configurations'))))
            result = {self.CONTEXT_PATH: context}
            if self.dbot_score:
                result.update(self.dbot_score.to_context())
            return result

    class EMAIL(Indicator):
        """Email address indicator: the platform writes it under ``Account``, keyed on ``Email.Address``."""
        CONTEXT_PATH = 'Account(val.Email.Address && val.Email.Address == obj.Email.Address)'
        _FIELDS = ('domain', 'blocked', 'relationships', 'description', 'internal', 'stix_id', 'tags',
                   'traffic_light_protocol', 'community_notes')

        def __init__(self, address: str, dbot_score: 'Common.DBotScore', *args: Any, **fields: Any) -> None:
            self.address = address
            self.dbot_score = dbot_score  # not type-checked, and no Malicious key: as the platform
            self._assign(fields, args)

        def to_context(self) -> Dict[str, Any]:
            context: Dict[str, Any] = {'Email': {'Address': self.address}}
            context.update(_truthy_fields(self, (('Blocked', 'blocked'), ('Domain', 'domain'),
                                                 ('Description', 'description'), ('Internal', 'internal'),
                                                 ('STIXID', 'stix_id'), ('Tags', 'tags'),
                                                 ('TrafficLightProtocol', 'traffic_light_protocol'))))
            relationships = [r.to_context() for r in self.relationships or [] if r.to_context()]
            if relationships:
                context['Relationships'] = relationships
            context.update(_table_fields(self, (('CommunityNotes', 'community_notes'),)))
            result = {self.CONTEXT_PATH: context}
            if self.dbot_score:
                result.update(self.dbot_score.to_context())
            return result

    class Account(Indicator):
        """User account indicator (standard context ``Account``)."""
        CONTEXT_PATH = 'Account(val.id && val.id == obj.id)'
        _FIELDS = ('type', 'username', 'display_name', 'groups', 'domain', 'email_address', 'telephone_number',
                   'office', 'job_title', 'department', 'country', 'state', 'city', 'street', 'is_enabled',
                   'dbot_score', 'relationships', 'blocked', 'community_notes', 'creation_date', 'description',
                   'stix_id', 'tags', 'traffic_light_protocol', 'user_id', 'manager_email', 'manager_display_name',
                   'risk_level')
        _TRUTHY = (('Type', 'type'), ('Blocked', 'blocked'), ('CreationDate', 'creation_date'), ('City', 'city'),
                   ('Country', 'country'), ('Department', 'department'), ('Description', 'description'),
                   ('DisplayName', 'display_name'), ('Groups', 'groups'), ('Domain', 'domain'),
                   ('TelephoneNumber', 'telephone_number'), ('JobTitle', 'job_title'), ('Office', 'office'),
                   ('State', 'state'), ('StixId', 'stix_id'), ('Street', 'street'), ('Tags', 'tags'),
                   ('TrafficLightProtocol', 'traffic_light_protocol'), ('UserId', 'user_id'), ('Username', 'username'),
                   ('ManagerEmailAddress', 'manager_email'), ('ManagerDisplayName', 'manager_display_name'),
                   ('RiskLevel', 'risk_level'))

        def __init__(self, id: Any = None, *args: Any, **fields: Any) -> None:
            self.id = id
            self._assign(fields, args)

        def to_context(self) -> Dict[str, Any]:
            context: Dict[str, Any] = {'Id': self.id}
            context.update(_truthy_fields(self, self._TRUTHY))
            if self.is_enabled is not None:
                context['Enabled'] = self.is_enabled
            if self.email_address:
                context['Email'] = {'Address': self.email_address}
            context.update(_table_fields(self, (('CommunityNotes', 'community_notes'),)))
            return self._finish(self.CONTEXT_PATH, context)

    class Endpoint(Indicator):
        """Endpoint (host) context; endpoints carry no DBotScore."""
        CONTEXT_PATH = 'Endpoint(val.ID && val.ID == obj.ID && val.Vendor == obj.Vendor)'
        _FIELDS = ('hostname', 'ip_address', 'domain', 'mac_address', 'os', 'os_version', 'dhcp_server',
                   'bios_version', 'model', 'memory', 'processors', 'processor', 'relationships', 'vendor', 'status',
                   'is_isolated', 'organization_prevalence', 'global_prevalence')

        def __init__(self, id: Any, *args: Any, **fields: Any) -> None:
            self.id = id
            self._assign(fields, args)
            if self.status and self.status not in ENDPOINT_STATUS_OPTIONS:
                raise ValueError(f'Status does not have a valid value such as: {", ".join(ENDPOINT_STATUS_OPTIONS)}')
            if self.is_isolated and self.is_isolated not in ENDPOINT_ISISOLATED_OPTIONS:
                raise ValueError(f'Is Isolated does not have a valid value such as: {", ".join(ENDPOINT_ISISOLATED_OPTIONS)}')

        def to_context(self) -> Dict[str, Any]:
            context = _truthy_fields(self, (
                ('ID', 'id'), ('Hostname', 'hostname'), ('IPAddress', 'ip_address'), ('Domain', 'domain'),
                ('MACAddress', 'mac_address'), ('OS', 'os'), ('OSVersion', 'os_version'), ('DHCPServer', 'dhcp_server'),
                ('BIOSVersion', 'bios_version'), ('Model', 'model'), ('Memory', 'memory'), ('Processors', 'processors'),
                ('Processor', 'processor'), ('Vendor', 'vendor'), ('Status', 'status'), ('IsIsolated', 'is_isolated')))
            context.update(_present_fields(self, (('OrganizationPrevalence', 'organization_prevalence'),
                                                  ('GlobalPrevalence', 'global_prevalence'))))
            return self._finish(self.CONTEXT_PATH, context)

    class Certificate(Indicator):
        """X.509 certificate indicator (minimal: the identifying fields, extensions passed through)."""
        CONTEXT_PATH = ('Certificate(val.MD5 && val.MD5 == obj.MD5 || val.SHA1 && val.SHA1 == obj.SHA1 || '
                        'val.SHA256 && val.SHA256 == obj.SHA256 || val.SHA512 && val.SHA512 == obj.SHA512)')
        _FIELDS = ('dbot_score', 'serial_number', 'validity_not_after', 'validity_not_before', 'sha512', 'sha256',
                   'sha1', 'md5', 'publickey', 'spki_sha256', 'signature_algorithm', 'signature',
                   'subject_alternative_name', 'extensions', 'pem', 'issuer_dn', 'relationships')

        def __init__(self, subject_dn: str, *args: Any, **fields: Any) -> None:
            self.subject_dn = subject_dn
            self._assign(fields, args)

        def to_context(self) -> Dict[str, Any]:
            context = _truthy_fields(self, (
                ('SubjectDN', 'subject_dn'), ('IssuerDN', 'issuer_dn'), ('SerialNumber', 'serial_number'),
                ('ValidityNotBefore', 'validity_not_before'), ('ValidityNotAfter', 'validity_not_after'),
                ('SHA512', 'sha512'), ('SHA256', 'sha256'), ('SHA1', 'sha1'), ('MD5', 'md5'),
                ('SPKISHA256', 'spki_sha256'), ('PEM', 'pem')))
            if self.subject_alternative_name:
                names = [n if isinstance(n, str) else n.to_context().get('Value') for n in self.subject_alternative_name]
                context['Name'] = names
            if self.publickey:
                context['PublicKey'] = self.publickey.to_context() if hasattr(self.publickey, 'to_context') else self.publickey
            signature = _truthy_fields(self, (('Algorithm', 'signature_algorithm'), ('Signature', 'signature')))
            if signature:
                context['Signature'] = signature
            if self.extensions:
                context['Extension'] = [e.to_context() if hasattr(e, 'to_context') else e for e in self.extensions]
            return self._finish(self.CONTEXT_PATH, context)

    class CustomIndicator(Indicator):
        """An indicator of a custom type, under a caller-chosen context prefix keyed on ``value``."""

        def __init__(self, indicator_type: str, value: Any, dbot_score: 'Common.DBotScore', data: Dict[str, Any],
                     context_prefix: str, relationships: List['EntityRelationship'] | None = None) -> None:
            if hasattr(DBotScoreType, indicator_type.upper()):
                raise ValueError('Creating a custom indicator type with an existing type name is not allowed')
            if not value:
                raise ValueError('value is mandatory for creating the indicator')
            if not context_prefix:
                raise ValueError('context_prefix is mandatory for creating the indicator')
            self.dbot_score = self._require_dbot_score(dbot_score)
            if data is None:
                raise TypeError('data must be a dict of the indicator fields')
            self.CONTEXT_PATH = f'{context_prefix}(val.value && val.value == obj.value)'
            self.value = value
            self.indicator_type = indicator_type
            self.data = data
            self.relationships = relationships
            INDICATOR_TYPE_TO_CONTEXT_KEY[indicator_type.lower()] = indicator_type.capitalize()
            for key, item in data.items():
                setattr(self, key, item)

        def to_context(self) -> Dict[str, Any]:
            context = {'value': self.value}
            context.update(self.data)
            result: Dict[str, Any] = {self.CONTEXT_PATH: context}
            result.update(self.dbot_score.to_context())
            result[Common.DBotScore.CONTEXT_PATH]['Type'] = self.indicator_type
            relationships = [r.to_context() for r in self.relationships or [] if r.to_context()]
            if relationships:
                result['Relationships'] = relationships
            return result


# ============================================================================================================
# Relationships
# ============================================================================================================

# name -> reverse name, as the server defines them.
_RELATIONSHIP_REVERSES = {
    'applied': 'applied-on', 'attachment-of': 'attaches', 'attaches': 'attachment-of', 'attribute-of': 'owns',
    'attributed-by': 'attributed-to', 'attributed-to': 'attributed-by', 'authored-by': 'author-of',
    'beacons-to': 'communicated-by', 'bundled-in': 'bundles', 'bundles': 'bundled-in',
    'communicated-with': 'communicated-by', 'communicated-by': 'communicates-with',
    'communicates-with': 'communicated-by', 'compromises': 'compromised-by', 'contains': 'part-of',
    'controls': 'controlled-by', 'created-by': 'creates', 'creates': 'created-by', 'delivered-by': 'delivers',
    'delivers': 'delivered-by', 'detects': 'detected-by', 'detected-by': 'detects', 'downloads': 'downloaded-by',
    'downloads-from': 'hosts', 'dropped-by': 'drops', 'drops': 'dropped-by', 'duplicate-of': 'duplicate-of',
    'embedded-in': 'embeds', 'embeds': 'embedded-on', 'executed': 'executed-by', 'executed-by': 'executes',
    'exfiltrates-to': 'exfiltrated-from', 'exploits': 'exploited-by', 'has': 'seen-on', 'hosted-on': 'hosts',
    'hosts': 'hosted-on', 'impersonates': 'impersonated-by', 'indicated-by': 'indicator-of',
    'indicator-of': 'indicated-by', 'injected-from': 'injects-into', 'injects-into': 'injected-from',
    'investigates': 'investigated-by', 'is-also': 'is-also', 'located-at': 'location-of',
    'mitigated-by': 'mitigates', 'mitigates': 'mitigated-by', 'originated-from': 'source-of', 'owned-by': 'owns',
    'owns': 'owned-by', 'part-of': 'contains', 'related-to': 'related-to', 'remediates': 'remediated-by',
    'resolved-by': 'resolves-to', 'resolved-from': 'resolves-to', 'resolves-to': 'resolved-from', 'seen-on': 'has',
    'sent': 'attached-to', 'sent-by': 'sent', 'sent-from': 'received-by', 'sent-to': 'received-by',
    'similar-to': 'similar-to', 'sub-domain-of': 'supra-domain-of', 'supra-domain-of': 'sub-domain-of',
    'subtechnique-of': 'parent-technique-of', 'parent-technique-of': 'subtechnique-of', 'targeted-by': 'targets',
    'targets': 'targeted-by', 'Types': 'Reverse', 'uploaded-to': 'hosts', 'used-by': 'uses', 'used-on': 'targeted-by',
    'uses': 'used-by', 'variant-of': 'variant-of',
}


def _declare_signature(cls: type, required: tuple[str, ...], leading_optional: tuple[str, ...] = ()) -> None:
    """Give ``cls.__init__`` the platform's explicit signature (required names, then every optional field with a
    None default), so introspection sees what the platform declares, positional order included."""
    kind = _inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [_inspect.Parameter(name, kind) for name in ('self', *required)]
    optional = (*leading_optional, *cls._FIELDS)  # type: ignore[attr-defined]
    params += [_inspect.Parameter(name, kind, default=None) for name in optional]
    cls.__init__.__signature__ = _inspect.Signature(params)  # type: ignore[misc]


for _cls, _required, *_leading in ((Common.IP, ('ip', 'dbot_score')), (Common.Domain, ('domain', 'dbot_score')),
                        (Common.URL, ('url', 'dbot_score')), (Common.File, ('dbot_score',)),
                        (Common.CVE, ('id', 'cvss', 'published', 'modified', 'description')),
                        (Common.EMAIL, ('address', 'dbot_score')), (Common.Account, (), ('id',)),
                        (Common.Endpoint, ('id',)), (Common.Certificate, ('subject_dn',))):
    _declare_signature(_cls, _required, *_leading)


class EntityRelationship:
    """A relationship between two indicators, returned in ``CommandResults(relationships=[...])``."""

    class RelationshipsTypes:
        RELATIONSHIP_TYPES = ['IndicatorToIndicator']

        @staticmethod
        def is_valid_type(_type: str) -> bool:
            return _type in EntityRelationship.RelationshipsTypes.RELATIONSHIP_TYPES

    class RelationshipsFamily:
        INDICATOR = ['Indicator']

        @staticmethod
        def is_valid_type(_type: str) -> bool:
            return _type in EntityRelationship.RelationshipsFamily.INDICATOR

    class Relationships:
        """Relationship names (constants) and their reverse names."""
        APPLIED = 'applied'
        ATTACHMENT_OF = 'attachment-of'
        ATTACHES = 'attaches'
        ATTRIBUTE_OF = 'attribute-of'
        ATTRIBUTED_BY = 'attributed-by'
        ATTRIBUTED_TO = 'attributed-to'
        AUTHORED_BY = 'authored-by'
        BEACONS_TO = 'beacons-to'
        BUNDLED_IN = 'bundled-in'
        BUNDLES = 'bundles'
        COMMUNICATED_WITH = 'communicated-with'
        COMMUNICATED_BY = 'communicated-by'
        COMMUNICATES_WITH = 'communicates-with'
        COMPROMISES = 'compromises'
        CONTAINS = 'contains'
        CONTROLS = 'controls'
        CREATED_BY = 'created-by'
        CREATES = 'creates'
        DELIVERED_BY = 'delivered-by'
        DELIVERS = 'delivers'
        DETECTS = 'detects'
        DETECTED_BY = 'detected-by'
        DOWNLOADS = 'downloads'
        DOWNLOADS_FROM = 'downloads-from'
        DROPPED_BY = 'dropped-by'
        DROPS = 'drops'
        DUPLICATE_OF = 'duplicate-of'
        EMBEDDED_IN = 'embedded-in'
        EMBEDS = 'embeds'
        EXECUTED = 'executed'
        EXECUTED_BY = 'executed-by'
        EXFILTRATES_TO = 'exfiltrates-to'
        EXPLOITS = 'exploits'
        HAS = 'has'
        HOSTED_ON = 'hosted-on'
        HOSTS = 'hosts'
        IMPERSONATES = 'impersonates'
        INDICATED_BY = 'indicated-by'
        INDICATOR_OF = 'indicator-of'
        INJECTED_FROM = 'injected-from'
        INJECTS_INTO = 'injects-into'
        INVESTIGATES = 'investigates'
        IS_ALSO = 'is-also'
        LOCATED_AT = 'located-at'
        MITIGATED_BY = 'mitigated-by'
        MITIGATES = 'mitigates'
        ORIGINATED_FROM = 'originated-from'
        OWNED_BY = 'owned-by'
        OWNS = 'owns'
        PART_OF = 'part-of'
        RELATED_TO = 'related-to'
        REMEDIATES = 'remediates'
        RESOLVED_BY = 'resolved-by'
        RESOLVED_FROM = 'resolved-from'
        RESOLVES_TO = 'resolves-to'
        SEEN_ON = 'seen-on'
        SENT = 'sent'
        SENT_BY = 'sent-by'
        SENT_FROM = 'sent-from'
        SENT_TO = 'sent-to'
        SIMILAR_TO = 'similar-to'
        SUB_DOMAIN_OF = 'sub-domain-of'
        SUB_TECHNIQUE_OF = 'subtechnique-of'
        PARENT_TECHNIQUE_OF = 'parent-technique-of'
        SUPRA_DOMAIN_OF = 'supra-domain-of'
        TARGETED_BY = 'targeted-by'
        TARGETS = 'targets'
        TYPES = 'Types'
        UPLOADED_TO = 'uploaded-to'
        USED_BY = 'used-by'
        USED_ON = 'used-on'
        USES = 'uses'
        VARIANT_OF = 'variant-of'
        RELATIONSHIPS_NAMES = _RELATIONSHIP_REVERSES

        @staticmethod
        def is_valid(_type: str) -> bool:
            return _type in _RELATIONSHIP_REVERSES

        @staticmethod
        def get_reverse(name: str) -> str:
            """The reverse name; unknown names fall back to 'related-to'."""
            if name not in _RELATIONSHIP_REVERSES:
                demisto.debug('Cannot find a reverse name for relationship name, using "related-to" instead.')
            return _RELATIONSHIP_REVERSES.get(name, EntityRelationship.Relationships.RELATED_TO)

    def __init__(self, name: str, entity_a: Any, entity_a_type: str, entity_b: Any, entity_b_type: str,
                 reverse_name: str = '', relationship_type: str = 'IndicatorToIndicator',
                 entity_a_family: str = 'Indicator', entity_b_family: str = 'Indicator', source_reliability: str = '',
                 fields: Dict[str, Any] | None = None, brand: str = '') -> None:
        # Unknown names are logged, not rejected: the server accepts custom relationship names.
        for label, value in (('relationship name', name), ('reverse relationship name', reverse_name)):
            if value and not self.Relationships.is_valid(value):
                demisto.debug(f'Unknown {label}: {value}')
        if not self.RelationshipsTypes.is_valid_type(relationship_type):
            raise ValueError(f'Invalid relationship type: {relationship_type}')
        if not self.RelationshipsFamily.is_valid_type(entity_a_family):
            raise ValueError(f'Invalid entity A Family type: {entity_a_family}')
        if not self.RelationshipsFamily.is_valid_type(entity_b_family):
            raise ValueError(f'Invalid entity B Family type: {entity_b_family}')
        if source_reliability and not DBotScoreReliability.is_valid_type(source_reliability):
            raise ValueError('Invalid source reliability value', source_reliability)
        if not entity_b:
            demisto.info(f'WARNING: Invalid entity B - Relationships will not be created to entity A {entity_a} '
                         f'with relationship name {name}')
        self._name = name
        self._reverse_name = reverse_name or self.Relationships.get_reverse(name)
        self._relationship_type = relationship_type
        self._entity_a, self._entity_a_type, self._entity_a_family = entity_a, entity_a_type, entity_a_family
        self._entity_b, self._entity_b_type, self._entity_b_family = entity_b, entity_b_type, entity_b_family
        self._source_reliability = source_reliability or ''
        self._fields = fields or {}
        self._brand = brand or ''

    def to_indicator(self) -> Dict[str, Any]:
        """The relationship as attached to an indicator (feed integrations); empty when entity B is missing."""
        if not self._entity_b:
            return {}
        return {
            'name': self._name, 'reverseName': self._reverse_name, 'type': self._relationship_type,
            'entityA': self._entity_a, 'entityAFamily': self._entity_a_family, 'entityAType': self._entity_a_type,
            'entityB': self._entity_b, 'entityBFamily': self._entity_b_family, 'entityBType': self._entity_b_type,
            'fields': self._fields,
        }

    def to_entry(self) -> Dict[str, Any]:
        """The relationship as sent in an entry's ``Relationships`` list."""
        entry = self.to_indicator()
        if entry:
            entry.update(_truthy_fields(self, (('reliability', '_source_reliability'), ('brand', '_brand'))))
        return entry

    def to_context(self) -> Dict[str, Any]:
        """The relationship as shown inside an indicator's context."""
        if not self._entity_b:
            return {}
        return {'Relationship': self._name, 'EntityA': self._entity_a, 'EntityAType': self._entity_a_type,
                'EntityB': self._entity_b, 'EntityBType': self._entity_b_type}


# ============================================================================================================
# CommandResults
# ============================================================================================================

class IndicatorsTimeline:
    """Timeline entries the server adds to indicators mentioned by a command."""

    def __init__(self, indicators: List[Any] | None = None, category: str | None = None,
                 message: str | None = None) -> None:
        default_category = 'Integration Update' if hasattr(demisto, 'params') else 'Automation Update'
        # The platform fills one dict and appends it once per indicator, so every entry is the same object and
        # carries the last indicator's value. Reproduced: the server sees exactly this.
        shared: Dict[str, Any] = {}
        self.indicators_timeline = []
        for indicator in indicators or []:
            shared['Value'] = indicator
            shared['Category'] = category or default_category
            if message:
                shared['Message'] = message
            self.indicators_timeline.append(shared)


class CommandResults:
    """The result of a command: war-room text, context outputs, indicators, relationships and polling."""

    def __init__(self, outputs_prefix: str | None = None, outputs_key_field: Union[str, List[str], None] = None,
                 outputs: Any = None, indicators: List[Any] | None = None, readable_output: str | None = None,
                 raw_response: Any = None, indicators_timeline: IndicatorsTimeline | None = None,
                 indicator: Common.Indicator | None = None, ignore_auto_extract: bool = False,
                 mark_as_note: bool = False, tags: List[str] | None = None,
                 scheduled_command: Optional['ScheduledCommand'] = None,
                 relationships: List[EntityRelationship] | None = None, entry_type: int | None = None,
                 content_format: str | None = None, execution_metrics: List[Dict[str, Any]] | None = None,
                 replace_existing: bool = False) -> None:
        if outputs is not None:
            if not isinstance(outputs, dict) and not outputs_prefix:
                raise ValueError('outputs_prefix is missing')
            if outputs_prefix == '.':
                raise ValueError('outputs_prefix cannot be a period.')
        if indicators and indicator:
            raise ValueError('indicators is DEPRECATED, use only indicator')
        if not outputs_key_field:
            self._outputs_key_field: List[str] | None = None
        elif isinstance(outputs_key_field, str):
            self._outputs_key_field = [outputs_key_field]
        elif isinstance(outputs_key_field, list):
            self._outputs_key_field = outputs_key_field
        else:
            raise TypeError('outputs_key_field must be of type str or list')
        if content_format is not None and not EntryFormat.is_valid_type(content_format):
            raise TypeError(f'content_format {content_format} is invalid, see CommonServerPython.EntryFormat')

        self.outputs_prefix = outputs_prefix
        self.outputs_key_field = outputs_key_field
        self.outputs = outputs
        self.indicators = indicators
        self.indicator = indicator
        self.readable_output = readable_output
        self.raw_response = outputs if raw_response is None else raw_response
        self.indicators_timeline = indicators_timeline
        self.ignore_auto_extract = ignore_auto_extract
        self.mark_as_note = mark_as_note
        self.tags = tags
        self.scheduled_command = scheduled_command
        self.relationships = relationships
        self.entry_type = EntryType.NOTE if entry_type is None else entry_type
        self.content_format = content_format
        self.execution_metrics = execution_metrics
        self.replace_existing = replace_existing

    def _indicator_context(self) -> Dict[str, List[Any]]:
        """Each indicator's context items, collected per key into lists (several indicators share a key)."""
        collected: Dict[str, List[Any]] = {}
        for indicator in ([self.indicator] if self.indicator else self.indicators or []):
            for key, value in indicator.to_context().items():
                collected.setdefault(key, []).append(value)
        return collected

    def _outputs_context(self) -> Dict[str, Any]:
        """The outputs under their DT key: ``Prefix(val.k && val.k == obj.k)``, ``Path(true)`` or the prefix."""
        prefix = self.outputs_prefix
        if prefix and self.replace_existing:
            path, _, last = prefix.rpartition('.')
            if not path:
                raise DemistoException('outputs_prefix must be a nested path to replace an existing key.')
            return {f'{path}(true)': {last: self.outputs}}
        if prefix and self._outputs_key_field:
            condition = ' && '.join(f'val.{k} && val.{k} == obj.{k}' for k in self._outputs_key_field)
            return {f'{prefix}({condition})': self.outputs}
        if prefix:
            return {str(prefix): self.outputs}
        return dict(self.outputs)

    def to_context(self) -> Dict[str, Any]:
        """The war-room entry the server receives."""
        entry_context: Dict[str, Any] = self._indicator_context()
        human_readable = self.readable_output or None
        has_outputs = self.outputs is not None and self.outputs != []
        if has_outputs:
            if not human_readable:
                human_readable = (tableToMarkdown('Results', self.outputs) if isinstance(self.outputs, (dict, list))
                                  else self.outputs)
            entry_context.update(self._outputs_context())

        raw_response = self.raw_response
        entry_type = self.entry_type
        content_format = self.content_format
        if content_format is None:
            content_format = EntryFormat.TEXT if isinstance(raw_response, (str, bytes, int)) else EntryFormat.JSON
        if self.execution_metrics:
            entry_type = EntryType.EXECUTION_METRICS
            raw_response = 'Metrics reported successfully.'
            content_format = EntryFormat.TEXT

        entry: Dict[str, Any] = {
            'Type': entry_type,
            'ContentsFormat': content_format,
            'Contents': raw_response,
            'HumanReadable': human_readable,
            'EntryContext': entry_context,
            'IndicatorTimeline': self.indicators_timeline.indicators_timeline if self.indicators_timeline else [],
            'IgnoreAutoExtract': bool(self.ignore_auto_extract),
            'Note': bool(self.mark_as_note),
            'Relationships': [r.to_entry() for r in self.relationships or [] if r.to_entry()],
        }
        if self.tags:
            entry['Tags'] = self.tags
        if self.scheduled_command:
            entry.update(self.scheduled_command.to_results())
        if self.execution_metrics:
            entry['APIExecutionMetrics'] = self.execution_metrics
        return entry


# ============================================================================================================
# Polling (scheduled commands)
# ============================================================================================================

class ScheduledCommand:
    """Asks the server to run ``command`` again after ``next_run_in_seconds`` (at least 10) with ``args``."""
    VERSION_MISMATCH_ERROR = ('This command is not supported by this XSOAR server version. Please update your server '
                              'version to 6.2.0 or later.')
    MIN_NEXT_RUN_SECONDS = 10

    def __init__(self, command: str, next_run_in_seconds: int, args: Dict[str, Any] | None = None,
                 timeout_in_seconds: int | None = None, items_remaining: int = 0) -> None:
        self.raise_error_if_not_supported()
        if next_run_in_seconds < self.MIN_NEXT_RUN_SECONDS:
            demisto.info(f'ScheduledCommandConfiguration - next_run_in_seconds is lower than the minimum, '
                         f'setting to {self.MIN_NEXT_RUN_SECONDS}')
            next_run_in_seconds = self.MIN_NEXT_RUN_SECONDS
        self._command = command
        self._next_run = str(next_run_in_seconds)
        self._args = args
        self._timeout = str(timeout_in_seconds) if timeout_in_seconds else None
        self._items_remaining = items_remaining

    @staticmethod
    def raise_error_if_not_supported() -> bool:
        """Kept for callers; every server the Base pack supports schedules commands, so nothing is refused."""
        return True

    @staticmethod
    def supports_polling() -> bool:
        """Every supported server (6.2.0 and later) runs scheduled commands; the version is not checked."""
        return True

    def to_results(self) -> Dict[str, Any]:
        """The entry keys that schedule the next run."""
        return assign_params(PollingCommand=self._command, NextRun=self._next_run, PollingArgs=self._args,
                             Timeout=self._timeout, PollingItemsRemaining=self._items_remaining)


class PollResult:
    """What a ``@polling_function`` command returns: the response, and whether/how to poll again."""

    def __init__(self, response: Any, continue_to_poll: Union[bool, Callable[[], bool]] = False,
                 args_for_next_run: Dict[str, Any] | None = None,
                 partial_result: CommandResults | None = None) -> None:
        self.response = response
        self.continue_to_poll = continue_to_poll
        self.args_for_next_run = args_for_next_run
        self.partial_result = partial_result


def polling_function(name: str, interval: int = 30, timeout: int = 600, poll_message: str = 'Fetching Results:',
                     polling_arg_name: str = 'polling', requires_polling_arg: bool = True) -> Callable[..., Any]:
    """Decorator for commands that poll: the wrapped function takes ``args`` first and returns a PollResult.

    When polling continues, the result carries a ScheduledCommand re-running ``name`` with the next args
    (plus ``hide_polling_output`` so the "Fetching Results" message shows only once).
    """
    def decorator(func: Callable[..., PollResult]) -> Callable[..., Any]:
        @wraps(func)
        def inner(args: Dict[str, Any], *arguments: Any, **kwargs: Any) -> Any:
            if requires_polling_arg and not argToBoolean(args.get(polling_arg_name, False)):
                return func(args, *arguments, **kwargs).response
            ScheduledCommand.raise_error_if_not_supported()
            result = func(args, *arguments, **kwargs)
            keep_polling = result.continue_to_poll() if callable(result.continue_to_poll) else result.continue_to_poll
            if not keep_polling:
                return result.response
            next_args = result.args_for_next_run or args
            readable = None if args.get('hide_polling_output') else poll_message
            next_args['hide_polling_output'] = True
            response = result.partial_result or CommandResults(readable_output=readable)
            response.scheduled_command = ScheduledCommand(command=name, next_run_in_seconds=interval, args=next_args,
                                                          timeout_in_seconds=timeout)
            return response
        return inner
    return decorator


# ============================================================================================================
# Execution metrics
# ============================================================================================================

class ExecutionMetrics:
    """API-call counters per outcome, reported to the server (6.8.0+) as an EXECUTION_METRICS entry."""
    _TYPES = (('success', ErrorTypes.SUCCESS), ('quota_error', ErrorTypes.QUOTA_ERROR),
              ('general_error', ErrorTypes.GENERAL_ERROR), ('auth_error', ErrorTypes.AUTH_ERROR),
              ('service_error', ErrorTypes.SERVICE_ERROR), ('connection_error', ErrorTypes.CONNECTION_ERROR),
              ('proxy_error', ErrorTypes.PROXY_ERROR), ('ssl_error', ErrorTypes.SSL_ERROR),
              ('timeout_error', ErrorTypes.TIMEOUT_ERROR), ('retry_error', ErrorTypes.RETRY_ERROR))

    success: int
    quota_error: int
    general_error: int
    auth_error: int
    service_error: int
    connection_error: int
    proxy_error: int
    ssl_error: int
    timeout_error: int
    retry_error: int

    def __init__(self, success: int = 0, quota_error: int = 0, general_error: int = 0, auth_error: int = 0,
                 service_error: int = 0, connection_error: int = 0, proxy_error: int = 0, ssl_error: int = 0,
                 timeout_error: int = 0, retry_error: int = 0) -> None:
        self._metrics: List[Dict[str, Any]] = []
        initial = locals()
        for attr, _ in self._TYPES:
            setattr(self, attr, initial[attr])

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        metric_type = dict(self._TYPES).get(name)
        if metric_type and isinstance(value, int) and value > 0:
            self._record(metric_type, value)

    def _record(self, metric_type: str, count: int) -> None:
        """Update the shared list in place, so CommandResults already handed out see new counts."""
        for metric in self._metrics:
            if metric['Type'] == metric_type:
                metric['APICallsCount'] = count
                return
        self._metrics.append({'Type': metric_type, 'APICallsCount': count})

    @staticmethod
    def is_supported() -> bool:
        return is_demisto_version_ge('6.8.0')

    def get_metric_list(self) -> List[Dict[str, Any]]:
        return self._metrics

    @property
    def metrics(self) -> CommandResults | None:
        """The metrics entry to return, or None when nothing was counted."""
        return CommandResults(execution_metrics=self._metrics) if self._metrics else None


def append_metrics(execution_metrics: ExecutionMetrics, results: List[Any]) -> List[Any]:
    """Append the metrics entry to ``results`` when there is one and the server supports it."""
    if execution_metrics.metrics is not None and execution_metrics.is_supported():
        results.append(execution_metrics.metrics)
    return results


# ============================================================================================================
# Returning results and errors
# ============================================================================================================

EXECUTION_METRICS_SCRIPT_SKIP_MSG = ("returning results with Type=EntryType.EXECUTION_METRICS isn't fully supported for "
                                     "scripts. dropping result.")


def is_integration_command_execution() -> bool:
    """False only when the calling context says a script is running (an empty context counts as integration)."""
    try:
        return demisto.callingContext['context']['ExecutedCommands'][0]['moduleBrand'] != 'Scripts'
    except (KeyError, IndexError, TypeError):
        try:
            return demisto.callingContext['context']['ScriptName'] == ''
        except (KeyError, IndexError, TypeError):
            return True


def _is_metrics_entry(entry: Any) -> bool:
    return isinstance(entry, dict) and entry.get('Type') == EntryType.EXECUTION_METRICS


def return_results(results: Any) -> None:
    """Send results to the war room: CommandResults, lists of them, dict entries, strings, or objects with
    ``to_entry``/``to_display``/``extract_*``. Metrics entries are dropped when a script is running."""
    is_integration = is_integration_command_execution()

    def send(entry: Any) -> None:
        if is_integration or not _is_metrics_entry(entry):
            demisto.results(entry)
        else:
            demisto.debug(EXECUTION_METRICS_SCRIPT_SKIP_MSG)

    if results is None:
        demisto.results(None)
    elif isinstance(results, list) and results:
        plain = []
        for item in results:
            if isinstance(item, (dict, str)):
                if is_integration or not _is_metrics_entry(item):
                    plain.append(item)
                else:
                    demisto.debug(EXECUTION_METRICS_SCRIPT_SKIP_MSG)
            else:
                return_results(item)
        if plain:
            demisto.results(plain)
    elif isinstance(results, CommandResults):
        send(results.to_context())
    elif isinstance(results, BaseWidget):
        demisto.results(results.to_display())
    elif isinstance(results, (GetMappingFieldsResponse, SchemeTypeMapping)):
        demisto.results(results.extract_mapping())
    elif isinstance(results, GetRemoteDataResponse):
        demisto.results(results.extract_for_local())
    elif hasattr(results, 'to_entry'):
        send(results.to_entry())
    elif hasattr(results, 'to_results') and not isinstance(results, ScheduledCommand):
        send(results.to_results())
    else:
        send(results)


def return_outputs(readable_output: Any, outputs: Dict[str, Any] | None = None, raw_response: Any = None,
                   timeline: Any = None, ignore_auto_extract: bool = False) -> None:
    """Deprecated: send one note entry built from markdown, context and raw response (use return_results)."""
    timeline_list = [timeline] if isinstance(timeline, dict) else timeline
    for item in timeline_list or []:
        item.setdefault('Category', 'Integration Update')
    entry = {
        'Type': EntryType.NOTE,
        'HumanReadable': readable_output,
        'ContentsFormat': EntryFormat.TEXT if isinstance(raw_response, (str, bytes)) else EntryFormat.JSON,
        'Contents': raw_response,
        'EntryContext': outputs,
        'IgnoreAutoExtract': ignore_auto_extract,
        'IndicatorTimeline': timeline_list,
    }
    if readable_output and not outputs and not raw_response:
        entry['Contents'] = readable_output
        entry['ContentsFormat'] = EntryFormat.TEXT
    elif outputs and raw_response is None:
        entry['Contents'] = outputs
    demisto.results(entry)


def _current_command() -> str | None:
    """The running command, or None for scripts (whose demisto object has no ``command``)."""
    if not hasattr(demisto, 'command'):
        return None
    try:
        return demisto.command()
    except Exception:  # scripts on old servers raise here
        return None


def return_error(message: Any, error: Any = '', outputs: Dict[str, Any] | None = None) -> None:
    """Report a failure.

    For fetch-incidents, fetch-credentials, long-running-execution and fetch-indicators the server handles the
    failure, so this raises ``Exception(message)``. Otherwise it posts an error entry (type 4) and exits 0.
    The message is masked through LOG and truncated when longer than 50,000 characters.
    """
    command = _current_command()
    text = LOG(message)
    if error:
        LOG(str(error))
    exc_type = sys.exc_info()[0]
    if exc_type is not None:
        trace = fix_traceback_line_numbers(traceback.format_exc())
        LOG(f'\n{trace}')
        if is_debug_mode():
            text = f'{text}\n\n{trace}'
    LOG.print_log()

    if command == 'get-modified-remote-data':
        not_implemented = isinstance(error, NotImplementedError) or (not error and exc_type is NotImplementedError)
        if not not_implemented:
            text = 'skip update. error: ' + text
    if command in SERVER_HANDLED_COMMANDS:
        raise Exception(text)
    if len(text) > MAX_ERROR_MESSAGE_LENGTH:
        half = MAX_ERROR_MESSAGE_LENGTH // 2
        text = text[:half] + '...This error body was truncated...' + text[-half:]
    demisto.results({'Type': EntryType.ERROR, 'ContentsFormat': EntryFormat.TEXT, 'Contents': text, 'EntryContext': outputs})
    sys.exit(0)


def return_warning(message: Any, exit: bool = False, warning: str = '', outputs: Dict[str, Any] | None = None,
                   ignore_auto_extract: bool = False) -> None:
    """Post a warning entry (type 11); exits 0 only when ``exit`` is set."""
    LOG(message)
    if warning:
        LOG(warning)
    LOG.print_log()
    demisto.results({'Type': EntryType.WARNING, 'ContentsFormat': EntryFormat.TEXT,
                     'IgnoreAutoExtract': ignore_auto_extract, 'Contents': str(message), 'EntryContext': outputs})
    if exit:
        sys.exit(0)


def fileResult(filename: str, data: Union[str, bytes], file_type: int | None = None) -> Dict[str, Any]:
    """Write ``data`` where the server picks up files (``<investigation id>_<unique id>`` in the working
    directory) and return the file entry for it."""
    file_id = demisto.uniqueFile()
    payload = data.encode('utf-8') if isinstance(data, str) else data
    with open(f"{demisto.investigation()['id']}_{file_id}", 'wb') as handle:
        handle.write(payload)
    # The server resolves '../' against its own folders, which would make it serve an empty file.
    safe_name = filename.replace('../', '') if isinstance(filename, str) else filename
    return {'Contents': '', 'ContentsFormat': EntryFormat.TEXT, 'Type': file_type or EntryType.FILE, 'File': safe_name,
            'FileID': file_id}


def is_error(execute_command_result: Any) -> bool:
    """True when the entry (or any entry of the list) is an error entry."""
    entries = execute_command_result if isinstance(execute_command_result, list) else [execute_command_result]
    return any(isinstance(entry, dict) and entry.get('Type') == EntryType.ERROR for entry in entries)


isError = is_error


def get_error(execute_command_result: Any) -> str:
    """The error text(s) of an executeCommand result (call is_error first)."""
    if not is_error(execute_command_result):
        raise ValueError('execute_command_result has no error entry. before using get_error use is_error')
    if isinstance(execute_command_result, dict):
        return execute_command_result['Contents']
    return '\n'.join(entry['Contents'] for entry in execute_command_result
                     if isinstance(entry, dict) and entry.get('Type') == EntryType.ERROR)


def execute_command(command: str, args: Dict[str, Any], extract_contents: bool = True, fail_on_error: bool = True) -> Any:
    """``demisto.executeCommand`` with error checking (scripts only)."""
    if not hasattr(demisto, 'executeCommand'):
        raise DemistoException('Cannot run demisto.executeCommand() from integrations.')
    res = demisto.executeCommand(command, args)
    if is_error(res):
        message = get_error(res)
        if fail_on_error:
            raise DemistoException(f'Failed to execute {command}. Error details:\n{message}')
        return False, message
    if extract_contents:
        contents = [entry.get('Contents', {}) for entry in res if entry.get('Type') != entryTypes['debug']]
        res = contents[0] if len(contents) == 1 else contents
    return res if fail_on_error else (True, res)


# ============================================================================================================
# Mirroring and widgets
# ============================================================================================================

class GetRemoteDataArgs:
    """Arguments of get-remote-data."""

    def __init__(self, args: Dict[str, Any]) -> None:
        self.remote_incident_id = args['id']
        self.last_update = args['lastUpdate']


class GetModifiedRemoteDataArgs:
    """Arguments of get-modified-remote-data."""

    def __init__(self, args: Dict[str, Any]) -> None:
        self.last_update = args['lastUpdate']


class UpdateRemoteSystemArgs:
    """Arguments of update-remote-system."""

    def __init__(self, args: Dict[str, Any]) -> None:
        self.data = args.get('data')
        self.entries = args.get('entries')
        self.incident_changed = args.get('incidentChanged')
        self.remote_incident_id = args.get('remoteId')
        self.inc_status = args.get('status')
        self.delta = args.get('delta')


class GetRemoteDataResponse:
    """get-remote-data result: the mirrored object followed by new entries."""

    def __init__(self, mirrored_object: Any, entries: List[Any]) -> None:
        self.mirrored_object = mirrored_object
        self.entries = entries

    def extract_for_local(self) -> List[Any] | None:
        if self.mirrored_object:
            return [self.mirrored_object] + list(self.entries or [])
        return None


class GetModifiedRemoteDataResponse:
    """get-modified-remote-data result: the ids of incidents changed remotely."""

    def __init__(self, modified_incident_ids: List[Any]) -> None:
        self.modified_incident_ids = modified_incident_ids

    def to_entry(self) -> Dict[str, Any]:
        demisto.info(f'Modified incidents: {self.modified_incident_ids}')
        return {'Contents': self.modified_incident_ids, 'Type': EntryType.NOTE, 'ContentsFormat': EntryFormat.JSON}


class SchemeTypeMapping:
    """The fields of one remote incident type, for the mapping editor."""

    def __init__(self, type_name: str = '', fields: Dict[str, str] | None = None) -> None:
        self.type_name = type_name
        self.fields = fields or {}

    def add_field(self, name: str, description: str = '') -> None:
        self.fields[name] = description

    def extract_mapping(self) -> Dict[str, Any]:
        return {self.type_name: self.fields}


class GetMappingFieldsResponse:
    """get-mapping-fields result."""

    def __init__(self, scheme_types_mapping: List[SchemeTypeMapping] | None = None) -> None:
        self.scheme_types_mappings = scheme_types_mapping or []

    def add_scheme_type(self, scheme_type_mapping: SchemeTypeMapping) -> None:
        self.scheme_types_mappings.append(scheme_type_mapping)

    def extract_mapping(self) -> Dict[str, Any]:
        mapping: Dict[str, Any] = {}
        for scheme in self.scheme_types_mappings:
            mapping.update(scheme.extract_mapping())
        return mapping


class BaseWidget:
    @abstractmethod
    def to_display(self) -> Any:
        raise NotImplementedError


class TextWidget(BaseWidget):
    def __init__(self, text: str) -> None:
        self.text = text

    def to_display(self) -> str:
        return self.text


class NumberWidget(BaseWidget):
    def __init__(self, number: Union[int, float]) -> None:
        self.number = number

    def to_display(self) -> Union[int, float]:
        return self.number


# ============================================================================================================
# BaseClient
# ============================================================================================================

_RETRY_METHODS = frozenset(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])


class BaseClient:
    """Base HTTP client of integrations: a requests Session with the platform's proxy, TLS, retry, timeout and
    error conventions. Subclasses call ``self._http_request(...)``."""
    REQUESTS_TIMEOUT = 60

    def __init__(self, base_url: str, verify: bool = True, proxy: bool = False, ok_codes: tuple[int, ...] = tuple(),
                 headers: Dict[str, str] | None = None, auth: Any = None, timeout: float = REQUESTS_TIMEOUT) -> None:
        self._base_url = base_url
        self._verify = verify
        self._ok_codes = ok_codes
        self._headers = headers
        self._auth = auth
        self._session = requests.Session()
        if proxy:
            ensure_proxy_has_http_prefix()
        else:
            skip_proxy()
        if not verify:
            skip_cert_verification()
        # The server can override timeouts per integration/script or globally through the environment.
        per_entity = os.getenv('REQUESTS_TIMEOUT.' + (get_integration_name() or get_script_name()), '')
        self.timeout = float(per_entity or os.getenv('REQUESTS_TIMEOUT', '') or timeout)
        self.execution_metrics = ExecutionMetrics()

    def __del__(self) -> None:
        try:
            self._return_execution_metrics_results()
            self._session.close()
        except Exception:  # noqa: S110 - never raise from a finalizer
            pass

    def _return_execution_metrics_results(self) -> None:
        metrics = getattr(getattr(self, 'execution_metrics', None), 'metrics', None)
        if metrics:
            return_results(metrics)

    def _implement_retry(self, retries: int = 0, status_list_to_retry: Iterable[int] | None = None,
                         backoff_factor: float = 5, raise_on_redirect: bool = False, raise_on_status: bool = False) -> None:
        """Mount an HTTPAdapter with urllib3 Retry on https:// (the platform retries https only)."""
        retry = _urllib3.Retry(total=retries, read=retries, connect=retries, status=retries,
                              backoff_factor=backoff_factor,
                              status_forcelist=list(status_list_to_retry) if status_list_to_retry else None,
                              raise_on_status=raise_on_status, raise_on_redirect=raise_on_redirect,
                              allowed_methods=_RETRY_METHODS)
        self._session.mount('https://', HTTPAdapter(max_retries=retry))

    def _http_request(self, method: str, url_suffix: str = '', full_url: str | None = None,
                      headers: Dict[str, str] | None = None, auth: Any = None, json_data: Any = None,
                      params: Any = None, data: Any = None, files: Any = None, timeout: Any = None,
                      resp_type: str = 'json', ok_codes: Iterable[int] | None = None, return_empty_response: bool = False,
                      retries: int = 0, status_list_to_retry: Iterable[int] | None = None, backoff_factor: float = 5,
                      raise_on_redirect: bool = False, raise_on_status: bool = False,
                      error_handler: Callable[[requests.Response], Any] | None = None,
                      empty_valid_codes: Iterable[int] | None = None,
                      params_parser: Callable[..., str] | None = None, with_metrics: bool = False, **kwargs: Any) -> Any:
        """Send a request and return the parsed response (``resp_type``: json, text, content, xml, response).

        A status outside ``ok_codes`` (or not ``response.ok`` when no codes are set) goes to ``error_handler``
        (which may return to accept it) or raises ``DemistoException('Error in API call [code] - reason\\n...')``.
        Connection-level failures are wrapped in DemistoException with a hint for the user.
        """
        try:
            if retries:
                self._implement_retry(retries, status_list_to_retry, backoff_factor, raise_on_redirect, raise_on_status)
            if params_parser:
                params = urllib.parse.urlencode(params, quote_via=params_parser)
            with warnings.catch_warnings():
                if not self._verify:
                    warnings.simplefilter('ignore', _urllib3.exceptions.InsecureRequestWarning)
                res = self._session.request(
                    method, full_url or urljoin(self._base_url, url_suffix), verify=self._verify, params=params,
                    data=data, json=json_data, files=files, headers=headers or self._headers, auth=auth or self._auth,
                    timeout=timeout or self.timeout, **kwargs)
            if not self._is_status_code_valid(res, ok_codes):
                self._handle_error(error_handler, res, with_metrics)
            return self._handle_success(res, resp_type, empty_valid_codes, return_empty_response, with_metrics)
        except requests.exceptions.ConnectTimeout as exc:
            self._count(with_metrics, 'timeout_error')
            raise DemistoException('Connection Timeout Error - potential reasons might be that the Server URL parameter'
                                   ' is incorrect or that the Server is not accessible from your host.', exc) from exc
        except requests.exceptions.SSLError as exc:
            self._count(with_metrics, 'ssl_error')
            if not self._verify:
                raise
            raise DemistoException("SSL Certificate Verification Failed - try selecting 'Trust any certificate' checkbox"
                                   " in the integration configuration.", exc) from exc
        except requests.exceptions.ProxyError as exc:
            self._count(with_metrics, 'proxy_error')
            raise DemistoException("Proxy Error - if the 'Use system proxy' checkbox in the integration configuration is"
                                   " selected, try clearing the checkbox.", exc) from exc
        except requests.exceptions.ConnectionError as exc:
            self._count(with_metrics, 'connection_error')
            raise DemistoException(self._connection_error_message(exc), exc) from exc
        except requests.exceptions.RetryError as exc:
            self._count(with_metrics, 'retry_error')
            try:
                reason = f'Reason: {exc.args[0].reason.args[0]}'
            except Exception:  # the reason is optional decoration
                reason = ''
            raise DemistoException(f'Max Retries Error- Request attempts with {retries} retries failed. \n{reason}',
                                   exc) from exc

    @staticmethod
    def _connection_error_message(exc: requests.exceptions.ConnectionError) -> str:
        message = ('Verify that the server URL parameter is correct and that you have access to the server from your '
                   f'host.\nError Type: <{type(exc).__module__}.{type(exc).__name__}>')
        if exc.errno and exc.strerror:
            return message + f'\nError Number: [{exc.errno}]\nMessage: {exc.strerror}\n'
        return message + f'\n{exc}'

    def _count(self, enabled: bool, metric: str) -> None:
        if enabled:
            setattr(self.execution_metrics, metric, getattr(self.execution_metrics, metric) + 1)

    def _handle_error(self, error_handler: Callable[[requests.Response], Any] | None, res: requests.Response,
                      should_update_metrics: bool) -> None:
        """Run the custom handler (it may return to accept the response) or the default one, which raises."""
        try:
            (error_handler or self.client_error_handler)(res)
        except Exception:
            if should_update_metrics:
                self._update_metrics(res, success=False)
            raise

    def _handle_success(self, res: requests.Response, resp_type: str, empty_valid_codes: Iterable[int] | None,
                        return_empty_response: bool, should_update_metrics: bool) -> Any:
        if should_update_metrics:
            self._update_metrics(res, success=True)
        if return_empty_response and res.status_code in (list(empty_valid_codes) if empty_valid_codes else [204]):
            return res
        return self.cast_response(res, resp_type)

    def cast_response(self, res: requests.Response, resp_type: str, raise_on_error: bool = True) -> Any:
        """Parse the response body as asked; unknown types (including '') return the Response itself."""
        kind = (resp_type or '').lower()
        try:
            if kind == 'json':
                return res.json()
            if kind == 'text':
                return res.text
            if kind == 'content':
                return res.content
            if kind == 'xml':
                ET.fromstring(res.text)  # noqa: S314 - validation only; callers parse the Response themselves
            return res
        except (ValueError, ET.ParseError) as exc:
            if raise_on_error:
                raise DemistoException(f'Failed to parse {kind} object from response: {res.content!r}', exc, res) from exc
            return None

    def _update_metrics(self, res: requests.Response, success: bool) -> None:
        if success:
            if not self.is_polling_in_progress(res):
                self.execution_metrics.success += 1
            return
        metric = {ErrorTypes.QUOTA_ERROR: 'quota_error', ErrorTypes.AUTH_ERROR: 'auth_error',
                  ErrorTypes.SERVICE_ERROR: 'service_error', ErrorTypes.GENERAL_ERROR: 'general_error'}.get(
            self.determine_error_type(res))
        if metric:
            self._count(True, metric)

    def determine_error_type(self, response: requests.Response) -> str:
        """Metric category of a failed response; subclasses may refine it."""
        return {401: ErrorTypes.AUTH_ERROR, 429: ErrorTypes.QUOTA_ERROR, 500: ErrorTypes.SERVICE_ERROR}.get(
            response.status_code, ErrorTypes.GENERAL_ERROR)

    def is_polling_in_progress(self, response: requests.Response) -> bool:
        """Subclasses return True for 'still running' responses, which are not counted as successes."""
        return False

    def _is_status_code_valid(self, response: requests.Response, ok_codes: Iterable[int] | None = None) -> bool:
        codes = ok_codes or self._ok_codes
        return response.status_code in codes if codes else response.ok

    def client_error_handler(self, res: requests.Response) -> None:
        """Default error handler: ``Error in API call [<code>] - <reason>`` plus the JSON or text body."""
        message = f'Error in API call [{res.status_code}] - {res.reason}'
        try:
            body = json.dumps(res.json())
        except ValueError:
            body = res.text
        raise DemistoException(f'{message}\n{body}', res=res)


# ============================================================================================================
# Import-time setup: parameters without nulls, and the masking logger
# ============================================================================================================

if not os.getenv('COMMON_SERVER_NO_AUTO_PARAMS_REMOVE_NULLS') and hasattr(demisto, 'params') and demisto.params():
    demisto.callingContext['params'] = SmartGetDict(demisto.params())

LOG = IntegrationLogger(debug_logging=is_debug_mode())


def start_debug_logging() -> None:
    """What the platform library does when a command runs with debug-mode=true: log the instance parameters and the
    whole process environment, and trace every HTTP exchange (http.client's "send:/reply:/header:" lines) into LOG.

    Everything goes through LOG, so registered secrets (secret-looking parameters, values added with
    ``add_sensitive_log_strs``) are masked; anything else in the environment or on the wire is logged as is, as on a
    real server. Reproduced so that this repository's secret scans see what a real server's debug log holds.
    """
    import http.client
    http.client.HTTPConnection.debuglevel = 1
    http.client.print = LOG.print_override  # type: ignore[attr-defined]  # http.client traces through print()
    params = json.dumps(demisto.params(), default=str, sort_keys=True)
    LOG(f'debug-mode started.\n#### Params: {params}\n#### Env: {dict(os.environ)}\n'
        f'#### Python Version: {sys.version}')


if is_debug_mode():
    start_debug_logging()
