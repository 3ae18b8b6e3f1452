"""``python -m microsoft_emulator serve ...``"""
import sys

from .cli import main

sys.exit(main())
