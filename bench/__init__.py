"""Benchmarks of Quark, run as `python -m bench <suite>` (see `bench/__main__.py`).

Every suite is self-contained: it starts the servers it needs from pip-installed binaries in
a temporary directory (or uses the machine's PostgreSQL/Redis on 127.0.0.1 with a throwaway
database and key prefix), stops every process it started, and prints each figure beside a
ceiling measured in the same run on the same machine, so a number is read against what the
hardware and the libraries allow rather than against a memory of another machine.
"""
