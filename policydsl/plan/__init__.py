"""The plan: a checked policy lowered into one resolved form (nodes), built by `lower`, printed as text."""

from policydsl.plan.lower import lower
from policydsl.plan.nodes import Plan
from policydsl.plan.printer import format_plan

__all__ = ["Plan", "format_plan", "lower"]
