"""Moving a post-backed object to the trash: ``WC_REST_CRUD_Controller::delete_item`` without
``force``.

Why one function: orders and coupons answer it word for word (``410`` when already trashed, a new
modification stamp, the ``deleted`` webhook topic); only the object's name differs. Products are
not routed here: the simulator lets a trashed product be trashed again without an error.
"""

from __future__ import annotations

from typing import Protocol

from .errors import ApiError
from .shop import Shop


class _Trashable(Protocol):
    id: int
    status: str
    modified: int


def trash(shop: Shop, obj: _Trashable, kind: str) -> None:
    """``kind`` is the singular resource name, as in messages and webhook topics ("order")."""
    if obj.status == "trash":
        raise ApiError(410, "woocommerce_rest_already_trashed",
                       f"The {kind} has already been deleted.")
    obj.status = "trash"
    obj.modified = shop.now()
    shop.store.emit(kind, "deleted", obj.id)
