"""Budget estimates (测算): a population's awards summed per measure and in total, against the budgets."""

from __future__ import annotations

import datetime
import decimal
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from policydsl.evaluation import runtime as rt
from policydsl.evaluation.batch import Evaluator, Limit, PotShare, decide_batch
from policydsl.messages import Lang, msg
from policydsl.plan import nodes as P

TOTAL = "total"
# how many applicants of each kind of change the comparison shows as examples
EXAMPLES = 5
# the bars of the histogram of awards
BINS = 10

Figure = tuple[str, Decimal | None]


@attrs.frozen
class Outcome:
    """One applicant's result: `row` (its place in the file), `id` (its id column, else the row
    number), `error` (why the row could not be decided), each measure's (status, amount) and the
    total's, and `limited`: each measure's (status, amount) before a batch limit changed it."""

    row: int
    id: str
    error: str | None
    measures: Mapping[str, Figure]
    total: Figure
    limited: Mapping[str, Figure] = attrs.field(factory=dict)


@attrs.define
class Figures:
    """What a population gets from one measure (or from all together: `name` is `total`): applicants
    `eligible` (not ineligible), `determined` of them with the `determined_sum` of their amounts,
    `ceilings` of them with the `ceiling_sum` of their ceilings, `undetermined` of them; `limited`
    applicants whose result a quota, group cap or pot changed, lowering the amounts by `limited_by`;
    the `budget` the text sets (None: none) and the `awards` (determined amounts, for the histogram)."""

    name: str
    label: str
    budget: Decimal | None = None
    eligible: int = 0
    determined: int = 0
    determined_sum: Decimal = Decimal(0)
    ceilings: int = 0
    ceiling_sum: Decimal = Decimal(0)
    undetermined: int = 0
    limited: int = 0
    limited_by: Decimal = Decimal(0)
    awards: list[Decimal] = attrs.field(factory=list, repr=False)

    def add(self, figure: Figure, before: Figure | None = None) -> None:
        status, amount = figure
        if status == rt.INELIGIBLE:
            pass
        elif status == rt.DETERMINED and amount is not None:
            self.eligible += 1
            self.determined += 1
            self.determined_sum += amount
            self.awards.append(amount)
        elif status == rt.CEILING and amount is not None:
            self.eligible += 1
            self.ceilings += 1
            self.ceiling_sum += amount
        else:
            self.eligible += 1
            self.undetermined += 1
        if (
            before is not None and before != figure
        ):  # a limit that leaves the result as it was changed nothing
            self.limited += 1
            was = before[1] if before[0] != rt.INELIGIBLE and before[1] is not None else Decimal(0)
            now = amount if status != rt.INELIGIBLE and amount is not None else Decimal(0)
            self.limited_by += max(was - now, Decimal(0))

    @property
    def over(self) -> Decimal | None:
        """How far the determined amounts pass the budget (None: no budget, or within it)."""
        if self.budget is None or self.determined_sum <= self.budget:
            return None
        return self.determined_sum - self.budget

    @property
    def over_at_most(self) -> Decimal | None:
        """How far the determined amounts and the ceilings together pass the budget."""
        if self.budget is None or self.determined_sum + self.ceiling_sum <= self.budget:
            return None
        return self.determined_sum + self.ceiling_sum - self.budget


@attrs.define
class Estimate:
    """A population's figures under one policy: its `title`, the `rows` read, `errors` (rows that
    could not be decided, with the first few `error_examples`), the figures of each measure and of
    the `total`, and the pots (`pots`: label → (total, determined amounts drawn on it)).
    `limits_known`: whether the engine says which results a batch limit changed (the DuckDB
    engine's query applies the limits but does not say)."""

    policy: str
    title: str
    engine: str
    limits_known: bool = True
    rows: int = 0
    errors: int = 0
    error_examples: list[tuple[str, str]] = attrs.field(factory=list)
    measures: dict[str, Figures] = attrs.field(factory=dict)
    total: Figures = attrs.field(factory=lambda: Figures(TOTAL, TOTAL))
    pots: dict[str, tuple[Decimal, Decimal]] = attrs.field(factory=dict)


@attrs.frozen
class Change:
    """One applicant whose total changes between two versions: `id`, the total's (status, amount)
    `before` and `after`."""

    id: str
    before: Figure
    after: Figure

    @property
    def delta(self) -> Decimal:
        return _paid(self.after) - _paid(self.before)


@attrs.define
class Comparison:
    """The applicants whose outcome changes from the first version to the second, by kind (gainers,
    losers, newly_eligible, no_longer_eligible): how many, the sum of their changes, a few examples;
    `unmatched` counts ids found in one run only."""

    counts: dict[str, int] = attrs.field(factory=dict)
    sums: dict[str, Decimal] = attrs.field(factory=dict)
    examples: dict[str, list[Change]] = attrs.field(factory=dict)
    unmatched: int = 0


KINDS = ("gainers", "losers", "newly_eligible", "no_longer_eligible")


def _paid(figure: Figure) -> Decimal:
    """The amount a result counts for in a comparison (a ceiling at its ceiling, nothing when none)."""
    status, amount = figure
    return amount if status in (rt.DETERMINED, rt.CEILING) and amount is not None else Decimal(0)


def budgets(plan: P.Plan, literal: Any) -> dict[str, Decimal]:
    """Each measure's yearly budget (the first the text writes), worked out by `literal(expr, text)`."""
    return {m.name: literal(m.budgets[0].amount, m.budgets[0].text) for m in plan.measures if m.budgets}


def estimate(
    outcomes: Iterable[Outcome],
    plan: P.Plan,
    budget: Mapping[str, Decimal],
    pots: Sequence[Limit] = (),
    *,
    engine: str = "python",
    policy: str = "",
) -> tuple[Estimate, dict[str, Outcome]]:
    """The figures of a population (`outcomes`), and each applicant's outcome by id (for comparing)."""
    out = Estimate(policy, plan.title, engine)
    for m in plan.measures:
        out.measures[m.name] = Figures(m.name, m.label, budget.get(m.name))
    known = [b for b in budget.values()]
    out.total.budget = sum(known, Decimal(0)) if known else None
    by_id: dict[str, Outcome] = {}
    with decimal.localcontext(rt.CONTEXT):
        for o in outcomes:
            out.rows += 1
            by_id[o.id] = o
            if o.error is not None:
                out.errors += 1
                if len(out.error_examples) < EXAMPLES:
                    out.error_examples.append((o.id, o.error))
                continue
            for name, figure in o.measures.items():
                out.measures[name].add(figure, o.limited.get(name))
            out.total.add(o.total)
        for limit in pots:
            total = getattr(limit, "total", None)
            if total is not None:
                measures = getattr(limit, "measures", ())
                drawn = sum((out.measures[n].determined_sum for n in measures), Decimal(0))
                out.pots[str(getattr(limit, "label", ""))] = (total, drawn)
    return out, by_id


def compare(old: Mapping[str, Outcome], new: Mapping[str, Outcome]) -> Comparison:
    """The applicants (matched by id) whose total changes between two runs over one population."""
    result = Comparison(
        counts=dict.fromkeys(KINDS, 0),
        sums=dict.fromkeys(KINDS, Decimal(0)),
        examples={k: [] for k in KINDS},
    )
    result.unmatched = len(set(old) ^ set(new))
    with decimal.localcontext(rt.CONTEXT):
        for key, before in old.items():
            after = new.get(key)
            if after is None:
                continue
            was = _status(before)
            now = _status(after)
            change = Change(key, (was, before.total[1]), (now, after.total[1]))
            if was == rt.INELIGIBLE and now != rt.INELIGIBLE:
                kind = "newly_eligible"
            elif was != rt.INELIGIBLE and now == rt.INELIGIBLE:
                kind = "no_longer_eligible"
            elif change.delta > 0:
                kind = "gainers"
            elif change.delta < 0:
                kind = "losers"
            else:
                continue
            result.counts[kind] += 1
            result.sums[kind] += change.delta
            if len(result.examples[kind]) < EXAMPLES:
                result.examples[kind].append(change)
    return result


def _status(o: Outcome) -> str:
    return rt.INELIGIBLE if o.error is not None else o.total[0]


# ------------------------------------------------------------------ the engines


def run_python(
    evaluator: Evaluator,
    plan: P.Plan,
    literal: Any,
    limits: Sequence[Limit],
    population: Path,
    date: datetime.date | None,
    policy: str = "",
    lang: Lang = "en",
) -> tuple[Estimate, dict[str, Outcome]]:
    """The estimate of `population` by the Python evaluator (`literal` works out the budgets), its
    error rows in `lang`; runtime.InputError when its columns cannot be read."""
    outcomes = python_outcomes(evaluator, population, date, list(limits), lang=lang)
    pots = [c for c in limits if isinstance(c, PotShare)]
    return estimate(outcomes, plan, budgets(plan, literal), pots, engine="python", policy=policy)


def python_outcomes(
    evaluator: Evaluator,
    source: Path,
    date: datetime.date | None,
    constraints: list[Limit],
    *,
    encoding: str | None = None,
    lang: Lang = "en",
) -> Iterator[Outcome]:
    """The outcome of every row of `source` by the Python evaluator with the batch's limits applied;
    an error row says why in `lang`."""
    for row in decide_batch(evaluator, source, date, constraints, encoding=encoding, lang=lang):
        facts = row.facts or {}
        key = str(facts.get("id", facts.get("_id", row.number)))
        if row.decision is None:
            error = row.error or msg("simulate.unreadable").render(lang)
            yield Outcome(row.number, key, error, {}, (rt.INELIGIBLE, None))
            continue
        d = row.decision
        yield Outcome(
            row.number,
            key,
            None,
            {name: (m.status, m.amount) for name, m in d.measures.items()},
            (d.total.status, d.total.amount),
            row.limited,
        )


# The SQL back end's columns with a limited measure's result before the quotas, group caps and pots
STATUS_BEFORE, AMOUNT_BEFORE = ".status_before", ".amount_before"


def limited_measures(limits: Sequence[Limit]) -> set[str]:
    """The measures a quota, group cap or pot of the batch may change."""
    names: set[str] = set()
    for limit in limits:
        names.update(limit.measures if isinstance(limit, PotShare) else (limit.measure,))
    return names


def before_columns(columns: Sequence[str], measures: Sequence[str]) -> list[str]:
    """The columns among a query's output `columns` that give a measure's result before the limits."""
    return [f"{m}{s}" for m in measures for s in (STATUS_BEFORE, AMOUNT_BEFORE) if f"{m}{s}" in columns]


def decided_file_outcomes(path: Path, measures: Sequence[str]) -> Iterator[Outcome]:
    """The outcomes in a JSON Lines file an SQL engine wrote (sqlbatch.run_file, sparkbatch.run_file),
    with each limited measure's result before the limits where the file has it."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            record = json.loads(line, parse_float=Decimal)
            error = record.get("error")
            figures = {
                name: (str(record[f"{name}.status"]), _decimal(record.get(f"{name}.amount")))
                for name in measures
            }
            limited = {
                name: (str(record[name + STATUS_BEFORE]), _decimal(record.get(name + AMOUNT_BEFORE)))
                for name in measures
                if record.get(name + STATUS_BEFORE) is not None
            }
            total = (str(record.get("total_status")), _decimal(record.get("total_amount")))
            yield Outcome(int(record["row"]), str(record["id"]), error or None, figures, total, limited)


def _decimal(value: Any) -> Decimal | None:
    return None if value is None or value == "" else Decimal(str(value))


# ------------------------------------------------------------------ JSON


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def figures_json(f: Figures, known: bool = True) -> dict[str, Any]:
    return {
        "measure": f.name,
        "label": f.label,
        "eligible": f.eligible,
        "determined": f.determined,
        "determined_sum": _money(f.determined_sum),
        "ceilings": f.ceilings,
        "ceiling_sum": _money(f.ceiling_sum),
        "undetermined": f.undetermined,
        "limited": f.limited if known else None,
        "limited_by": _money(f.limited_by) if known else None,
        "budget": _money(f.budget),
        "over_budget": _money(f.over),
        "over_budget_with_ceilings": _money(f.over_at_most),
    }


def estimate_json(e: Estimate) -> dict[str, Any]:
    """The documented JSON shape of an estimate (docs/simulate.md); amounts are exact decimal strings."""
    return {
        "policy": e.policy,
        "title": e.title,
        "engine": e.engine,
        "rows": e.rows,
        "errors": e.errors,
        "error_examples": [{"id": i, "error": text} for i, text in e.error_examples],
        "measures": [figures_json(f, e.limits_known) for f in e.measures.values()],
        "total": figures_json(e.total, e.limits_known),
        "pots": [
            {"label": label, "total": _money(total), "determined_sum": _money(drawn)}
            for label, (total, drawn) in e.pots.items()
        ],
    }


def comparison_json(c: Comparison) -> dict[str, Any]:
    return {
        "unmatched": c.unmatched,
        **{
            kind: {
                "count": c.counts[kind],
                "change_sum": _money(c.sums[kind]),
                "examples": [
                    {
                        "id": x.id,
                        "before": {"status": x.before[0], "amount": _money(x.before[1])},
                        "after": {"status": x.after[0], "amount": _money(x.after[1])},
                    }
                    for x in c.examples[kind]
                ],
            }
            for kind in KINDS
        },
    }


def histogram(awards: Sequence[Decimal], bins: int = BINS) -> list[tuple[Decimal, Decimal, int]]:
    """The awards counted into `bins` equal ranges (low, high, count) from the least to the greatest."""
    if not awards:
        return []
    low, high = min(awards), max(awards)
    if low == high:
        return [(low, high, len(awards))]
    with decimal.localcontext(rt.CONTEXT):
        width = (high - low) / bins
        counts = [0] * bins
        for a in awards:
            counts[min(int((a - low) / width), bins - 1)] += 1
        return [(low + width * i, low + width * (i + 1), counts[i]) for i in range(bins)]
