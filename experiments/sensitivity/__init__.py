"""Sensitivity study: which design levers and which assumed constants drive impact, and how much.

Run with ``python -m experiments.sensitivity`` (``--quick`` for the smoke test); the results go to
``docs/sensitivity.md`` with ``--docs``. Sobol indices after Saltelli et al. 2010, Morris
screening after Morris 1991 and Campolongo, Cariboni & Saltelli 2007, PAWN after Pianosi &
Wagener 2015, PRIM after Friedman & Fisher 1999.
"""
