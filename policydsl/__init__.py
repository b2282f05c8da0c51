"""policydsl: a language and compiler for government subsidy policy clauses."""

from policydsl.api import PolicyError, PolicyEvaluator, load
from policydsl.evaluation.runtime import Decision, InputError, MeasureResult

__all__ = ["Decision", "InputError", "MeasureResult", "PolicyError", "PolicyEvaluator", "load"]
