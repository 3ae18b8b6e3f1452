"""The emulator's clock: Microsoft timestamps as integer *ticks* (100 ns since the Unix epoch, the resolution
Microsoft's DateTimeOffset values carry), so a timestamp read from a response and sent back in a ``$filter``
compares exactly. Every product keeps its times in ticks and renders them with :func:`format_time`."""
from __future__ import annotations

import calendar
import re
import time

TICKS_PER_SECOND = 10_000_000

# ----- time ---------------------------------------------------------------------------------------------------------

_ISO = re.compile(r'^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?'
                  r'(Z|z|[+-]\d{2}:?\d{2})?$')


def now_ticks() -> int:
    return time.time_ns() // 100


def parse_time(text: str) -> int:
    """An ISO 8601 date or date-time (fraction up to 7 digits kept exactly; offsets honoured) -> ticks.
    Raises ``ValueError``."""
    match = _ISO.match(text.strip())
    if not match:
        raise ValueError(f'not an ISO 8601 date-time: {text!r}')
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    seconds = calendar.timegm((int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0)))
    if not (1 <= int(month) <= 12 and 1 <= int(day) <= 31 and int(hour or 0) < 24 and int(minute or 0) < 60
            and int(second or 0) < 61):
        raise ValueError(f'not a valid date-time: {text!r}')
    ticks = seconds * TICKS_PER_SECOND
    if fraction:
        ticks += int((fraction + '0000000')[:7])
    if offset and offset not in ('Z', 'z'):
        sign = -1 if offset[0] == '-' else 1
        digits = offset[1:].replace(':', '')
        ticks -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60) * TICKS_PER_SECOND
    return ticks


def format_time(ticks: int | None) -> str | None:
    """Ticks -> ``2026-01-01T10:00:00.123Z`` (fraction trimmed of trailing zeros, none when whole seconds), the way
    Microsoft's APIs print DateTimeOffset values."""
    if ticks is None:
        return None
    seconds, fraction = divmod(ticks, TICKS_PER_SECOND)
    base = time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds))
    if fraction:
        return f"{base}.{f'{fraction:07d}'.rstrip('0')}Z"
    return base + 'Z'
