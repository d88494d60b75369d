"""Simulated charge points and electric vehicles (``ems sim``).

A :class:`~ems.sim.fleet.Fleet` runs N simulated stations (:mod:`ems.sim.chargepoint`) against
any CSMS URL over OCPP 1.6J or 2.0.1. Each station derives its composite schedule from the
charging profiles it holds (:mod:`ems.sim.profiles`) and lets its cars (:mod:`ems.sim.ev`) draw
at most that; arrivals and departures come from a session dataset or a seeded random model
(:mod:`ems.sim.arrivals`). All timing goes through a possibly accelerated clock
(:mod:`ems.sim.clock`), so a day can pass in minutes.

For durability tests and benchmarks, :mod:`ems.sim.load` runs lean charge points with offline
queues that record every acknowledgement in a ledger (:mod:`ems.sim.ledger`),
:mod:`ems.sim.verify` compares that ledger with the database, and :mod:`ems.sim.process` runs
``ems serve`` as a child process that can be killed and restarted for real.
"""
