"""Calibration of cisim against targets fixed in advance (specs, targets and the default check)."""
