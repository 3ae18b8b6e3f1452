"""Benchmarks of the Defender packs against the Microsoft emulator: ``python -m bench.run`` (see README.md)."""
