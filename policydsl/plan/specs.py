"""What every back end that evaluates a plan shares: the facts' input checks and its own reasons."""

from __future__ import annotations

from policydsl.evaluation import runtime as rt
from policydsl.plan import nodes as P

# The reasons an evaluation itself gives (the plan composes the others), in the interpreter and in
# every generated evaluator alike.
DATE_NEEDED = "评估日期"
NO_BAND = "没有适用的档次"
NO_YEAR = "逐年表未列出本年度，原文未给出该年的金额"


def runtime_specs(plan: P.Plan) -> dict[str, rt.FactSpec]:
    """What each fact accepts, for checking an applicant's input, keyed by every spelling an input
    may use (each alias right after the fact it names)."""
    specs: dict[str, rt.FactSpec] = {}
    for name, spec in plan.facts.items():
        specs[name] = rt.FactSpec(
            spec.name, spec.label, spec.kind, spec.unit, spec.members, spec.bounds, spec.exclusive
        )
        specs.update((alias, specs[name]) for alias, target in plan.aliases.items() if target == name)
    return specs
