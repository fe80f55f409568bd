"""``meta_data`` writes with WooCommerce's ``update_meta_data`` rules (NOTES 5.4).

* entry with ``id``: that row is updated (or deleted when the value is null);
* entry without ``id``: the first row with the key keeps its id and takes the value, every other
  row with that key is dropped; no row yet means a new row with a fresh id;
* ``value: null`` deletes the key; keys not mentioned are untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .errors import ApiError


@dataclass(slots=True)
class Meta:
    id: int
    key: str
    value: Any


def apply_meta(rows: list[Meta], entries: Iterable[Any], next_id: Callable[[], int]) -> list[Meta]:
    result = list(rows)
    for entry in entries:
        if not isinstance(entry, dict):
            raise ApiError(400, "rest_invalid_param", "Invalid parameter(s): meta_data",
                           params={"meta_data": "meta_data[0] is not of type object."})
        key = entry.get("key")
        value = entry.get("value")
        meta_id = entry.get("id")
        if meta_id not in (None, "", 0):
            target = next((m for m in result if m.id == int(meta_id)), None)
            if target is None:
                continue
            if value is None:
                result.remove(target)
            else:
                if key:
                    target.key = str(key)
                target.value = value
            continue
        if not key:
            continue
        key = str(key)
        same = [m for m in result if m.key == key]
        if value is None:
            result = [m for m in result if m.key != key]
            continue
        if same:
            keep = same[0]
            keep.value = value
            result = [m for m in result if m.key != key or m is keep]
        else:
            result.append(Meta(next_id(), key, value))
    return result


def meta_list(rows: list[Meta]) -> list[dict[str, Any]]:
    return [{"id": m.id, "key": m.key, "value": m.value} for m in rows]


def item_meta_list(rows: list[Meta]) -> list[dict[str, Any]]:
    """Order item meta shows ``display_key``/``display_value`` too."""
    return [
        {"id": m.id, "key": m.key, "value": m.value, "display_key": m.key, "display_value": m.value}
        for m in rows
    ]
