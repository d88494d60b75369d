"""Load, PV, departure and energy forecasts from metered history. Filled in by the replay issue."""
