"""Tryton ERP adapter: store orders become sales, shipments and in-store sales come back.

``TrytonAdapter`` speaks JSON-RPC over ``requests`` only; ``start_local_tryton`` (in
:mod:`adapters.tryton.local`) runs a trytond for the demo and the tests and needs the
``tryton`` extra (``pip install "vinculo[tryton]"``), imported lazily.
"""

from adapters.tryton.adapter import TrytonAdapter
from adapters.tryton.client import TrytonClient
from adapters.tryton.local import LocalTryton, local_tryton, require_trytond, start_local_tryton

__all__ = [
    "LocalTryton",
    "TrytonAdapter",
    "TrytonClient",
    "local_tryton",
    "require_trytond",
    "start_local_tryton",
]
