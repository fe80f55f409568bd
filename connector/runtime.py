"""One configured Vínculo: state database, adapters, sync engine, loyalty and dispatcher.

The CLI, the demo and (later) the daemon all start from here, so they cannot drift apart in how
they wire the same parts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connector.config import Config
from connector.outbox import Dispatcher
from connector.ports import ErpAdapter, StoreAdapter
from connector.state.db import Database
from connector.sync.engine import OrderObserver, Progress, SyncEngine
from connector.wiring import build_all


@dataclass
class Runtime:
    config: Config
    db: Database
    stores: dict[str, StoreAdapter]
    erp: ErpAdapter | None
    engine: SyncEngine
    dispatcher: Dispatcher
    loyalty: Any = None
    extras: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        self.db.dispose()


def open_runtime(
    config: Config,
    *,
    progress: Progress | None = None,
    stores: dict[str, StoreAdapter] | None = None,
    erp: ErpAdapter | None = None,
) -> Runtime:
    db = Database(config.state.url)
    if stores is None:
        stores, erp = build_all(config)
    loyalty = _loyalty(config, stores)
    observer: OrderObserver | None = loyalty
    engine = SyncEngine(
        db,
        stores,
        erp,
        policies={
            "billing": config.conflicts.billing,
            "marketing": config.conflicts.marketing,
            "default": config.conflicts.default,
        },
        observer=observer,
        progress=progress,
    )
    dispatcher = Dispatcher(
        db,
        stores,
        max_attempts=config.loyalty.dispatcher_max_attempts,
        on_dead=loyalty.on_dead if loyalty is not None else None,
        render=loyalty.render if loyalty is not None else None,
    )
    return Runtime(config, db, stores, erp, engine, dispatcher, loyalty)


def _loyalty(config: Config, stores: dict[str, StoreAdapter]) -> Any:
    """The loyalty bridge when a program is configured, else None (sync only)."""
    if not config.loyalty.enabled or (config.loyalty.program is None and config.loyalty.program_file is None):
        return None
    from connector.rewards import LoyaltyBridge

    return LoyaltyBridge.from_config(config, store_keys=list(stores))
