"""The packaged seed data (default.yml); a package so that setuptools ships it."""
