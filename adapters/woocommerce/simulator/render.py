"""JSON bytes as PHP's ``wp_json_encode`` writes them.

Webhook signatures are computed over the exact bytes, so the simulator must produce what PHP
produces: compact separators, ``/`` escaped as ``\\/`` and non-ASCII as lower-case ``\\u`` plus four hex digits
(surrogate pairs above the BMP). Python's ``ensure_ascii`` output already matches PHP for
everything except the slash, and ``/`` can only occur inside strings in JSON text, so a plain
replace after encoding is exact.
"""

from __future__ import annotations

import json
from typing import Any


def php_json(value: Any) -> bytes:
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("/", "\\/").encode("ascii")


def php_json_text(value: Any) -> str:
    return php_json(value).decode("ascii")
