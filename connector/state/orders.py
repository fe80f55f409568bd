"""Order mirrors: the last version of each order we saw, and what we did with it."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.domain import Order, to_jsonable
from connector.state.clock import now
from connector.state.models import OrderMirror


def get(session: Session, platform_id: str) -> OrderMirror | None:
    return session.get(OrderMirror, platform_id)


def get_many(session: Session, platform_ids: Iterable[str]) -> dict[str, OrderMirror]:
    ids = list(platform_ids)
    if not ids:
        return {}
    rows = session.scalars(select(OrderMirror).where(OrderMirror.platform_id.in_(ids)))
    return {r.platform_id: r for r in rows}


def upsert(session: Session, order: Order, *, source: str, vinculo_id: str | None, digest: str) -> OrderMirror:
    row = session.get(OrderMirror, order.id)
    stamp = now()
    data = to_jsonable(order)
    if row is None:
        row = OrderMirror(
            platform_id=order.id,
            source=source,
            vinculo_id=vinculo_id,
            number=order.number,
            status=order.status.value,
            currency=order.currency,
            total=str(order.total.amount),
            store_updated_at=order.updated_at,
            digest=digest,
            data=data,
            exported_digest=None,
            exported_at=None,
            erp_ref=None,
            loyalty_digest=None,
            updated_at=stamp,
        )
        session.add(row)
        return row
    row.vinculo_id = vinculo_id
    row.number = order.number
    row.status = order.status.value
    row.total = str(order.total.amount)
    row.store_updated_at = order.updated_at
    row.digest = digest
    row.data = data
    row.updated_at = stamp
    return row


def mark_exported(row: OrderMirror, *, digest: str, erp_ref: str | None) -> None:
    row.exported_digest = digest
    row.exported_at = now()
    row.erp_ref = erp_ref


def counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(OrderMirror.source, func.count()).group_by(OrderMirror.source))
    return {source: int(n) for source, n in rows}
