"""The fast path of a generated evaluator: one flat function deciding (status, amount) per measure.

It serves the common case — every fact given as a valid typed value, an evaluation date, no
parameter values — where three-valued logic is not needed: every condition is true or false.  The
facts are checked in a few long conditions (type first, then bounds, fact by fact), the measures are
settled in straight-line code with the facts in locals, and anything the fast path cannot work out
(a value the text leaves open, an arithmetic failure, a tie between exceptions) makes it return None:
the full path then decides.  What it returns is what the full path decides; the differential tests
hold both to it.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Protocol

from policydsl.codegen.writer import CodeWriter, Seq, literal, negated
from policydsl.evaluation import runtime as rt
from policydsl.plan import nodes as P
from policydsl.syntax.keywords import APPLICANT_FACT


# What the fast path asks of the generator that writes the rest of the module (python.PythonGenerator,
# which hands itself over): named here so that this module does not import that one, which imports it.
class Compiled(Protocol):
    """A compiled expression: its Python `code`, and whether it needs no brackets (`atomic`)."""

    @property
    def code(self) -> str: ...

    @property
    def atomic(self) -> bool: ...


class Function(Protocol):
    """The function being written: its body `w`, the facts it reads (name: local) and temporaries."""

    @property
    def w(self) -> CodeWriter: ...

    @property
    def facts(self) -> dict[str, str]: ...

    def temp(self, prefix: str = "v") -> str: ...


class Generator(Protocol):
    """The module's generator: the `plan`, the function being written (`fn`), the facts' runtime
    specs, the rounding, names for constants and texts, compiled expressions; `fast` is set while
    the fast path is written."""

    fast: bool

    @property
    def plan(self) -> P.Plan: ...

    @property
    def fn(self) -> Function: ...

    @property
    def fact_specs(self) -> list[rt.FactSpec]: ...

    @property
    def rounding(self) -> rt.Rounding: ...

    def begin(self) -> CodeWriter: ...

    def end(
        self,
        out: CodeWriter,
        signature: str,
        args: list[str],
        returns: str,
        comments: list[str],
        prologue: Sequence[str] = (),
    ) -> None: ...

    def const(self, value: Decimal) -> str: ...

    def date_const(self, value: datetime.date) -> str: ...

    def vague_window(self) -> str | None: ...

    def s(self, text: str, room: int = 40) -> str: ...

    def tuple_code(self, items: list[str | Seq]) -> str: ...

    def fact_local(self, name: str) -> str: ...

    def expr(self, e: P.Expr) -> Compiled: ...

    def pure(self, e: P.Expr) -> bool: ...

    def figure(self, e: P.Expr) -> Decimal: ...

    def safe(self, e: P.Expr, target: str) -> None: ...

    def save_context(self, w: CodeWriter) -> None: ...


def received_text(limit: P.FundingLimit) -> str:
    """The funding already received, as a funding limit's comment names it (the fact it counts)."""
    received = limit.received
    return received.name if isinstance(received, P.FactRef) else "?"


# the Python type of a typed fact value of each kind
TYPES = {
    "bool": "bool",
    "date": "datetime.date",
    "text": "str",
    "enum": "str",
    "roles": "str",  # one role, by its name; several (a list or a set) go to the full path
    "money": "Decimal",
    "percent": "Decimal",
    "number": "Decimal",
    "count": "Decimal",
}


def value_tests(gen: Generator, spec: rt.FactSpec) -> list[str]:
    """Tests (on `{v}`, a value of its kind's type, finite if a number) that hold exactly when
    runtime.parse_fact takes it as it is: within the figures the runtime accepts, never negative where
    that is not allowed, whole for a count, within the declared bounds, a member of the enumeration,
    text that is not blank."""
    if spec.kind == "text":
        return ['{v}.strip() != ""']  # blank text counts as not given
    if spec.kind in ("enum", "roles"):
        members = gen.tuple_code([literal(m) for m, _ in spec.members])
        return ["{v} in " + members.replace("{", "{{").replace("}", "}}")]
    if TYPES.get(spec.kind) != "Decimal":
        return []
    negative = any(op in (">", ">=") and b < 0 for op, b in spec.bounds)
    implied = any(op in (">", ">=") and b >= 0 for op, b in spec.bounds)  # a bound already says ≥ 0
    if spec.kind == "percent":
        tests = ["-ONE <= {v} <= ONE"]  # a bare figure above 1 is refused (60 is not 6000%)
    elif spec.kind == "count" or (spec.kind == "money" and not negative and not implied):
        tests = ["ZERO <= {v} < FIGURE_LIMIT"]  # a count is never negative, money only if allowed
    elif spec.kind == "money" and not negative:
        tests = ["{v} < FIGURE_LIMIT"]
    else:
        tests = ["-FIGURE_LIMIT < {v} < FIGURE_LIMIT"]
    if spec.kind == "count" and rt.whole_unit(spec.unit):  # 12.5亩 is an area; 12.5家 is no count
        tests.append("{v} == {v}.to_integral_value()")
    said = tests[0].startswith("ZERO <=")  # a declared `>= 0` is said already
    declared = [(op, b) for op, b in spec.bounds if not (said and op == ">=" and b == 0)]
    return tests + [f"{{v}} {op} {gen.const(b)}" for op, b in declared]


class FastPath:
    """Writes `fast_amounts(raw, date)` for the policy of `gen`."""

    def __init__(self, gen: Generator) -> None:
        self.gen = gen
        self.specs = gen.fact_specs

    @property
    def possible(self) -> bool:
        return all(spec.kind in TYPES for spec in self.specs)

    @contextmanager
    def when(self, test: str | None) -> Iterator[None]:
        """A block run only `if test`; no block when there is no test or it is `True`."""
        if test is None or test == "True":
            yield
            return
        with self.gen.fn.w.block(f"if {test}"):
            yield

    def write(self, out: CodeWriter) -> None:
        gen = self.gen
        w = gen.begin()
        gen.fast = True
        try:
            if self.possible:
                self.body(w)
            else:
                w.line("return None  # a fact of a kind the fast path does not check")
        finally:
            gen.fast = False
        gen.fn.facts.clear()  # read from the tuple of values, not with f.get
        gen.end(
            out,
            "fast_amounts",
            ["raw: Mapping[str, Any]", "date: datetime.date"],
            "tuple[Amounts, tuple[Any, ...], tuple[str, ...]] | None",
            [
                "The fast path: every fact given as a valid typed value (an int for a number) and a",
                "date.  Returns (status, amount) per measure, as the full path decides them, the facts'",
                "values and the keys ignored (names of no fact); None when the full path must decide.",
            ],
        )

    # ------------------------------------------------------------------ the facts
    def body(self, w: CodeWriter) -> None:
        gen = self.gen
        names = [spec.name for spec in self.specs]
        locals_ = [gen.fact_local(n) for n in names]
        local = dict(zip(names, locals_, strict=True))
        self.refuse(w, ["type(raw) is not dict"])
        if len(names) > 1:
            with w.block("try"):
                w.line("values = FACT_GETTER(raw)")
            with w.block("except KeyError"):
                w.line("return None")
        else:
            entries = [f"raw.get({gen.s(n)})" for n in names]
            # typed as FACT_GETTER(raw) is when there are several facts (exact_numbers may give None)
            w.line(f"values: Any = ({entries[0]},)" if entries else "values: Any = ()")
        # keys besides the facts' names are ignored (and listed); an id is not even listed
        w.line(f"ignored = () if len(raw) == {len(names)} else extra_keys(FACT_SPECS, raw)")
        with w.block("if ignored is None"):
            w.line("return None  # a fact given twice, by its name and its other spelling")
        self.unpack(w, locals_)
        if self.specs:
            tests = [f"type({local[spec.name]}) is {TYPES[spec.kind]}" for spec in self.specs]
            if len(tests) == 1:
                w.line(f"if {negated(tests[0])}:")
            else:
                w.chain("if not (", tests, "and", "):")
            with w.indent():
                w.line("# an int for a number is the exact figure it is; any other type is the full path's")
                w.line("values = exact_numbers(values, FACT_TYPES)")
                with w.block("if values is None"):
                    w.line("return None")
                self.unpack(w, locals_)
                if gen.plan.params:
                    w.line("raw = dict(zip(FACT_KEYS, values, strict=True))")
        gen.save_context(w)
        with w.block("try"):
            self.bounds(w, local)
            self.decide(w)
        with w.block("except (Unset, *ARITHMETIC)"):
            w.line("return None  # something the full path explains")
        with w.block("finally"):
            w.line("setcontext(saved)")

    @staticmethod
    def unpack(w: CodeWriter, locals_: list[str]) -> None:
        """The facts' values into their locals."""
        if len(locals_) > 1 and w.fits(f"{', '.join(locals_)} = values"):
            w.line(f"{', '.join(locals_)} = values")
        elif locals_:
            w.items("(", locals_, ") = values")

    def bounds(self, w: CodeWriter, local: dict[str, str]) -> None:
        """The checks runtime.parse_fact makes, fact by fact, on values already of their kinds' types
        (body checks them first, so nothing else is compared before): the bounds of numbers (a NaN
        fails every comparison under the trapping context), whole counts, enumeration members, text
        that is not blank."""
        gen = self.gen
        tests: list[str] = []
        for spec in self.specs:
            v = local[spec.name]
            tests += [test.format(v=v) for test in value_tests(gen, spec)]
        line: list[str] = []
        for test in tests:
            if line and not w.fits(f"if not ({' and '.join([*line, test])}):"):
                self.refuse(w, [negated(" and ".join(line))])
                line = []
            line.append(test)
        if line:
            self.refuse(w, [negated(" and ".join(line))])

    def refuse(self, w: CodeWriter, tests: list[str]) -> None:
        """Return None when any of `tests` holds."""
        joined = " or ".join(tests)
        for test in [joined] if w.fits(f"if {joined}:") else tests:
            with self.when(test):
                w.line("return None")

    # ------------------------------------------------------------------ the measures
    def decide(self, w: CodeWriter) -> None:
        gen = self.gen
        if gen.plan.params:
            w.line("f = raw  # the parameters' defaults may read facts")
            w.line("p: Values = {}")
            w.line("need: set[str] = set()")
        for assume in gen.plan.assumption_lines:
            # facts that contradict an assumption are an input error: the full path raises it
            w.comment(f"assume {assume.text}")
            self.refuse(w, [f"not ({gen.expr(assume.cond).code})"])
        start, end = gen.plan.validity.start, gen.plan.validity.end
        validity = " <= ".join(
            [*([gen.date_const(start)] if start else []), "date", *([gen.date_const(end)] if end else [])]
        )
        vague = gen.vague_window()
        if vague is not None:
            # whether the policy is in force is undetermined there: the full path says why
            w.comment(f"{gen.plan.validity.vague}: undetermined between the earliest and latest window")
            self.refuse(w, [f"{validity} and ({vague})" if start or end else vague])
        requirements = gen.plan.eligibility
        measures = gen.plan.measures
        results = [gen.fn.temp("v") for _ in measures]
        for result in results:
            w.line(f"{result}: tuple[str, Decimal | None] = NO")
        shared = None
        if start or end or requirements:
            w.line("# the policy's validity and the eligibility every measure shares")
            if start or end:
                w.line(f"eligible = {validity}")
            for n, req in enumerate(requirements):
                self.chain("eligible", req.cond, False, first=n == 0 and not (start or end))
            shared = "eligible"
        with self.when(shared):
            if not measures:
                w.line("pass  # a policy without measures pays nothing")
            for measure, result in zip(measures, results, strict=True):
                self.measure(w, measure, result)
        entries = [f"{gen.s(m.name)}: {r}" for m, r in zip(measures, results, strict=True)]
        w.items("amounts: Amounts = {", entries, "}")
        if gen.plan.shared_limits:
            w.comment("the funding limits several measures share, as the full path applies them")
            w.line("facts = dict(zip(FACT_KEYS, values, strict=True))")
            w.line("amounts = share_amounts(amounts, shared_limits(facts, {}, date), ROUNDING)")

        if gen.plan.pots:
            w.line("amounts = pot_amounts(amounts, pots({}))  # one applicant alone: at most the pot")
        w.line("return amounts, values, ignored")

    def chain(self, flag: str, cond: P.Expr, negate: bool, first: bool = False) -> None:
        """`flag` stays true while each condition holds; a condition is worked out only while it does
        (the `first` sets it)."""
        gen = self.gen
        with self.when(None if first else flag):
            val = gen.expr(cond)
            code = (negated(val.code) if not val.atomic else f"not {val.code}") if negate else val.code
            gen.fn.w.line(f"{flag} = {code}")

    def measure(self, w: CodeWriter, measure: P.Measure, result: str) -> None:
        """The gates of a measure in turn (the first that fails rules it out: the full path would
        find it ineligible whatever the others say), then its clauses."""
        gen = self.gen
        w.comment(f"measure {measure.name} 「{measure.label}」")
        gated = False
        if measure.applicants is not None:
            allowed = measure.applicants.kinds
            kind = gen.fact_local(APPLICANT_FACT[0])
            if len(allowed) == 1:
                w.line(f"ok = {kind} == {gen.s(allowed[0])}")
            else:
                w.line(f"ok = {kind} in ({', '.join(gen.s(k) for k in allowed)})")
            gated = True
        for gate in measure.gates:
            self.chain("ok", gate.cond, not gate.passes_when, first=not gated)
            gated = True
        with self.when("ok" if gated else None):
            self.settle(w, measure, result)

    def settle(self, w: CodeWriter, measure: P.Measure, result: str) -> None:
        """The clauses of a measure whose gates hold, settled as runtime.finish_measure does."""
        gen = self.gen
        clauses = measure.clauses
        awards = [c.index for c in measure.awards]
        bonuses = [c.index for c in measure.bonuses]
        grouped = {e for g in measure.groups for e in g.exceptions}
        nested = any(c.exception_of is not None and c.id not in grouped for c in clauses) or any(
            measure.clause(g.default).exception_of is not None for g in measure.groups
        )
        if nested or not awards:
            w.line("return None  # chained exceptions or no award: the full path decides")
            return
        if any(c.amount.mode == "ceiling" and c.amount.floor is not None for c in clauses):
            w.line("return None  # a range: its floor is in the full path's result")
            return
        precisions = {c.index: self.clause(w, c) for c in clauses}
        for limit in measure.funding_limits:
            w.comment(f"funding_limit {limit.text} counting {received_text(limit)}")
            gen.safe(limit.limit, "limit")
            gen.safe(limit.received, "received")
        # whether each clause is chosen: it applies (a clause without conditions always does) and no
        # exception replaces it
        chosen = {c.index: f"a{c.index}" if c.conditions else "True" for c in clauses}
        if measure.groups:
            w.comment("exceptions: one that applies replaces its default; the highest priority wins")
            for group in measure.groups:
                default = measure.clause(group.default)
                exceptions = [measure.clause(e) for e in group.exceptions]
                for tie in group.ties:
                    tied = [measure.clause(t).index for t in tie]
                    for x, one in enumerate(tied):
                        for other in tied[x + 1 :]:
                            with self.when(f"{chosen[one]} and {chosen[other]}"):
                                w.line("return None  # a tie: the full path says so")
                applies = [chosen[e.index] for e in exceptions]
                w.line(f"x{default.index} = {_unless(chosen[default.index], applies)}")
                replaced = {default.index: f"x{default.index}"}
                for e in exceptions:
                    higher = [chosen[o.index] for o in exceptions if o.rank > e.rank]
                    if higher:
                        w.line(f"x{e.index} = {_unless(chosen[e.index], higher)}")
                        replaced[e.index] = f"x{e.index}"
                chosen.update(replaced)
        paid = awards + bonuses
        any_award = " or ".join(chosen[i] for i in awards)
        with self.when(None if "True" in [chosen[i] for i in awards] else any_award):
            if len(paid) == 1:  # the one award, chosen here
                if precisions[paid[0]] == rt.UNKNOWN:
                    w.line(f"{result} = UNDETERMINED, None")
                    return
                status = "CEILING" if precisions[paid[0]] == rt.AT_MOST else "DETERMINED"
                self.pay(w, measure, result, status, f"amount{paid[0]}")
                return
            kinds = {precisions[i] for i in paid}
            mixed = {rt.EXACT, rt.AT_MOST} <= kinds
            w.line("total = ZERO")
            if rt.UNKNOWN in kinds:
                w.line("unknown = False")
            if mixed:
                w.line("at_most = False")
            for i in paid:
                with self.when(chosen[i]):
                    if precisions[i] == rt.UNKNOWN:
                        w.line("unknown = True")
                        continue
                    w.line(f"total += amount{i}")
                    if precisions[i] == rt.AT_MOST and mixed:
                        w.line("at_most = True")
            if mixed:
                status = "CEILING if at_most else DETERMINED"
            else:
                status = "CEILING" if rt.AT_MOST in kinds else "DETERMINED"
            if rt.UNKNOWN not in kinds:
                self.pay(w, measure, result, status, "total")
                return
            if not measure.funding_limits and not measure.instalments:
                paid_line = f"{result} = (UNDETERMINED, None) if unknown else ({status}, {self.ROUNDED})"
                if w.fits(paid_line):
                    w.line(paid_line)
                    return
            with self.when("unknown"):
                w.line(f"{result} = UNDETERMINED, None")
            with w.block("else"):
                self.pay(w, measure, result, status, "total")

    ROUNDED = "total.quantize(QUANTUM, ROUND_MODE)"

    def pay(self, w: CodeWriter, measure: P.Measure, result: str, status: str, total: str) -> None:
        """The cross-funding ceiling and staged payment on the sum of the amounts (`total`, or the one
        clause's amount, already rounded), then the measure's result."""
        rounded = self.ROUNDED
        # the full path adds the amounts to ZERO, which also turns a -0.00 into 0.00
        if not measure.funding_limits and not measure.instalments:
            w.line(f"{result} = {status}, {rounded if total == 'total' else f'{total} or ROUNDED_ZERO'}")
            return
        if total != "total":
            w.line(f"total = ZERO + {total}")
        if measure.funding_limits:
            w.line("room = max(ZERO, (limit - received).quantize(QUANTUM, ROUND_MODE))")
            with self.when("room < total"):
                w.line("total = room")
        self.instalments(w, measure)
        w.line(f"{result} = {status}, {rounded}")

    def clause(self, w: CodeWriter, clause: P.Clause) -> str:
        """Whether clause `i` (its index) applies (`a{i}`) and its amount after caps and rounding
        (`amount{i}`); returns its precision, known before it runs on the fast path."""
        gen = self.gen
        amount = clause.amount
        i = clause.index
        w.comment(f"{clause.kind} {clause.name or i}")
        flag = f"a{i}"
        for n, cond in enumerate(clause.conditions):
            self.chain(flag, cond.cond, cond.negated, first=n == 0)
        if amount.expr is None:
            return rt.UNKNOWN
        caps = [cap.expr for cap in amount.caps]
        floor, offset = amount.floor, amount.offset
        if floor is None and offset is None and all(gen.pure(e) for e in (amount.expr, *caps)):
            # a figure written in the policy: capped and rounded here, once
            with decimal.localcontext(rt.CONTEXT):
                figure = min(gen.figure(e) for e in (amount.expr, *caps))
                w.line(f"amount{i} = {gen.const(gen.rounding(figure))}")
            return rt.AT_MOST if amount.mode == "ceiling" else rt.EXACT
        with self.when(flag if clause.conditions else None):
            val = gen.expr(amount.expr)
            w.line(f"value = {val.code}")
            if floor is not None:  # runtime.lift
                w.comment(f"floor {floor.text}")
                w.line(f"value = max(value, {gen.expr(floor.expr).code})")
            for cap in caps:
                limit = gen.expr(cap).code
                if not gen.pure(cap):
                    w.line(f"limit = {limit}")
                    limit = "limit"
                with self.when(f"value > {limit}"):
                    w.line(f"value = {limit}")
            if offset is not None:  # runtime.settle_bounds
                w.comment(f"offset {offset.text}")
                w.line(f"value = max(value - {gen.expr(offset.expr).code}, ZERO)")
            w.line(f"amount{i} = value.quantize(QUANTUM, ROUND_MODE)")
        return rt.AT_MOST if amount.mode == "ceiling" else rt.EXACT

    def instalments(self, w: CodeWriter, measure: P.Measure) -> None:
        """Staged payment, as runtime._instalments pays it: each stage in turn while they hold."""
        gen = self.gen
        stages = measure.instalments
        if not stages:
            return
        clawback = not measure.no_clawback
        w.line("paid = ZERO")
        w.line("going = True")
        for stage in stages:
            w.comment(f"instalment {stage.name}: {stage.text}")
            with self.when("going"):
                # the share first: a share that cannot be worked out leaves the stage undecided
                share = None
                if stage.share is not None:
                    w.line(f"share = {gen.expr(stage.share).code}")
                    share = "share"
                val = gen.expr(stage.cond)
                with w.block(f"if {val.code}"):  # an if even for `true`: the else below needs one
                    if share is None:
                        w.line("paid += total - paid  # the rest, as runtime._instalments pays it")
                    else:
                        w.line("paid += (total * share).quantize(QUANTUM, ROUND_MODE)")
                with w.block("else"):
                    w.line("going = False")
                    if clawback:
                        w.line("paid = ZERO")
        w.line("total = paid")


def _unless(applies: str, overriding: list[str]) -> str:
    """`applies and not (any of overriding)`, as short as it can be written."""
    others = overriding[0] if len(overriding) == 1 else f"({' or '.join(overriding)})"
    return f"not {others}" if applies == "True" else f"{applies} and not {others}"
