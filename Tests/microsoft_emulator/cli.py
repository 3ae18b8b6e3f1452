"""``microsoft-emulator serve [--port N] [--tls] [--rate-limits] [--seed FILE] [--state-dir DIR] [--auto-approve]
[--host 127.0.0.1]``

Prints ``EMULATOR_URL=<base url>`` (and ``EMULATOR_CA=<CA bundle>`` with ``--tls``) on stdout, then serves until
SIGTERM or SIGINT.
"""
from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

DEFAULT_STATE_DIR = Path('.xsoar-local') / 'emulator'


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='microsoft-emulator',
                                     description='A local emulator of the Microsoft services the Defender packs use.')
    sub = parser.add_subparsers(dest='command', required=True)
    serve = sub.add_parser('serve', help='serve the emulator until SIGTERM/SIGINT')
    serve.add_argument('--host', default='127.0.0.1', help='address to bind (default 127.0.0.1)')
    serve.add_argument('--port', type=int, default=0, help='port to bind (default 0: any free port)')
    serve.add_argument('--tls', action='store_true', help='serve HTTPS with a test CA (printed as EMULATOR_CA)')
    serve.add_argument('--rate-limits', action='store_true', help="enforce the APIs' documented rate limits")
    serve.add_argument('--seed', type=Path, help='seed file (YAML or JSON); default: the packaged seed')
    serve.add_argument('--state-dir', type=Path, default=DEFAULT_STATE_DIR,
                       help=f'where keys, certificates and issued refresh tokens are kept (default {DEFAULT_STATE_DIR})')
    serve.add_argument('--auto-approve', action='store_true',
                       help='approve device codes on first poll and consent authorize requests at once')
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from .server import EmulatorServer

    try:
        server = EmulatorServer(host=args.host, port=args.port, tls=args.tls, seed=args.seed,
                                state_dir=args.state_dir, auto_approve=args.auto_approve,
                                rate_limits=args.rate_limits)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f'microsoft-emulator: cannot start: {exc}', file=sys.stderr)
        return 2
    print(f'EMULATOR_URL={server.url}')
    if server.ca_path is not None:
        print(f'EMULATOR_CA={server.ca_path.resolve()}')
    sys.stdout.flush()

    # uvicorn re-raises the signal that stopped it once it has shut down; a handler of our own turns that into a
    # normal exit (status 0) instead of death by signal.
    def stopped(signum: int, frame: object) -> None:
        return None

    signal.signal(signal.SIGTERM, stopped)
    signal.signal(signal.SIGINT, stopped)
    server.serve_forever()
    return 0


if __name__ == '__main__':
    sys.exit(main())
