"""Validation study: the model against the patterns observed in collective impact initiatives.

Run with ``python -m experiments.validation`` (``--quick`` for the reduced study); see
``docs/validation.md``. Pattern-oriented modelling after Grimm et al. 2005 (Science 310).
"""
