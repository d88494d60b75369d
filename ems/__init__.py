"""ems: an OCPP 1.6J / 2.0.1 central system with an LP smart-charging optimizer."""

__version__ = "0.1.0"
