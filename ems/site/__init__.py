"""The site model: a site file (``data/sites/*.toml``) checked into frozen objects.

:func:`load_site` reads one; :class:`SiteConfig` holds the circuit tree, chargers, extra
constraints, the site meter, the tariff and the control settings, and turns them into the
optimizer's inputs. ``data/sites/README.md`` documents the file format.
"""

from ems.site.fallback import fallback_limits_a
from ems.site.horizon import slot_edges
from ems.site.load import load_site, parse_phases
from ems.site.model import (
    CapacityWindow,
    ChargerSpec,
    CircuitSpec,
    ConstraintSpec,
    ControlSettings,
    SiteConfig,
    SiteMeterSpec,
)

__all__ = [
    "CapacityWindow",
    "ChargerSpec",
    "CircuitSpec",
    "ConstraintSpec",
    "ControlSettings",
    "SiteConfig",
    "SiteMeterSpec",
    "fallback_limits_a",
    "load_site",
    "parse_phases",
    "slot_edges",
]
