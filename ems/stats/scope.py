"""What a set of statistics covers: a site's chargers, one charge point, or every charger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ems.site import SiteConfig
from ems.tariffs import Tariff


@dataclass(frozen=True, slots=True)
class StatsScope:
    """The chargers statistics are computed for, and how to read their time and money.

    ``chargers`` lists (charge point id, EVSE id) pairs; None means every EVSE of
    ``charge_point_ids`` that appears in the data (every charge point when that is None too).
    ``timezone`` sets the calendar periods. ``tariff`` prices energy and sessions (no money
    figures without one). ``site_id`` adds the control loop's measured site power.
    """

    id: str
    name: str
    timezone: str = "UTC"
    chargers: tuple[tuple[str, int], ...] | None = None
    charge_point_ids: tuple[str, ...] | None = None
    tariff: Tariff | None = None
    site_id: str | None = None

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # fail early on an unknown zone

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def currency(self) -> str | None:
        return None if self.tariff is None else self.tariff.currency

    @classmethod
    def of_site(cls, site: SiteConfig) -> StatsScope:
        """The site's chargers in its time zone, priced with its tariff."""
        chargers = tuple((c.charge_point_id, c.evse_id) for c in site.chargers)
        return cls(
            id=site.id,
            name=site.name,
            timezone=site.timezone,
            chargers=chargers,
            charge_point_ids=tuple(sorted({cp for cp, _ in chargers})),
            tariff=site.tariff,
            site_id=site.id,
        )

    @classmethod
    def of_charge_point(
        cls, charge_point_id: str, sites: Sequence[SiteConfig], timezone: str | None = None
    ) -> StatsScope:
        """Every EVSE of one charge point; in its site's time zone and tariff when it belongs to
        a site (``timezone`` overrides the zone; UTC outside a site)."""
        site = next(
            (s for s in sites if any(c.charge_point_id == charge_point_id for c in s.chargers)),
            None,
        )
        return cls(
            id=charge_point_id,
            name=charge_point_id,
            timezone=timezone or (site.timezone if site else "UTC"),
            charge_point_ids=(charge_point_id,),
            tariff=site.tariff if site else None,
        )
