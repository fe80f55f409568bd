"""What every domain operation needs: the store, the clock and the site's settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from .clock import SimClock
from .shapes import Ctx
from .store import Store
from .values import SiteTime


@dataclass
class Shop:
    store: Store
    clock: SimClock
    ctx: Ctx
    currency: str = "EUR"
    # Gateways whose refunds move money; everything else fails an api_refund like bacs/cod do.
    refund_gateways: set[str] = field(default_factory=lambda: {"stripe", "woocommerce_payments",
                                                               "ppcp-gateway"})
    api_user_id: int = 1

    @property
    def site(self) -> SiteTime:
        return self.ctx.site

    def now(self) -> int:
        return int(self.clock.time())
