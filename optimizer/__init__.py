"""Pure charge-scheduling library (LP over circuits, phases, tariffs and departures).

No I/O, no clock, no database, and nothing imported from ``ems``. Filled in by the optimizer issue.
"""
