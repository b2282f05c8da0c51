"""The evaluation runtime shared by the interpreter and generated evaluators (standard library only).

Generated evaluator modules carry a copy of this file's text, so it must import nothing outside the
standard library and must not refer to the rest of policydsl.
"""

import dataclasses
import datetime
import decimal
import difflib
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

# Arithmetic runs in this context: 60 significant digits keep every product of amounts as written
# in policies exact; only division can round, at the 60th digit.  Money is then rounded by the
# policy's own rule (default: to the fen, half up).
CONTEXT = decimal.Context(
    prec=60,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)

EXACT, AT_MOST, UNKNOWN = "exact", "at_most", "unknown"
DETERMINED, CEILING, UNDETERMINED, INELIGIBLE = "determined", "ceiling", "undetermined", "ineligible"

ROUNDING_QUANTA = {"yuan": Decimal("1"), "jiao": Decimal("0.1"), "fen": Decimal("0.01")}
ROUNDING_MODES = {
    "half_up": decimal.ROUND_HALF_UP,
    "half_even": decimal.ROUND_HALF_EVEN,
    "down": decimal.ROUND_DOWN,
}

ZERO = Decimal(0)
ONE = Decimal(1)


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    """One problem with an applicant's facts: the message catalogue's `id` with its `args` (texts, or
    a list of texts, or a Problem for the reason inside another), and the English `text` a
    standalone evaluator shows.
    The id is empty for a problem the catalogue does not know: its text is shown as it is."""

    id: str
    text: str
    args: tuple[tuple[str, "str | tuple[str, ...] | Problem"], ...] = ()

    def __str__(self) -> str:
        return self.text


def problem(id: str, text: str, **args: "str | tuple[str, ...] | Problem") -> Problem:
    """The problem `id` (an entry of the message catalogue) with its English `text` and arguments."""
    return Problem(id, text, tuple(sorted(args.items())))


class BadValue(ValueError):
    """A raw value that cannot be a fact's value; `problem` says why (its text is the message)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.text)
        self.problem = problem


def _bad(id: str, text: str, **args: "str | tuple[str, ...] | Problem") -> BadValue:
    return BadValue(problem(id, text, **args))


class InputError(ValueError):
    """The applicant's facts are unusable; `problems` lists every one of them in English, `details`
    the same problems with their catalogue ids (policydsl's messages render them in either
    language: PolicyEvaluator.input_problems)."""

    def __init__(self, problems: Sequence[str | Problem]) -> None:
        self.details = [p if isinstance(p, Problem) else Problem("", p) for p in problems]
        self.problems = [p.text for p in self.details]
        super().__init__("; ".join(self.problems))


class Missing(Exception):
    """A fact the computation needs was not given (`name`)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


@dataclasses.dataclass(frozen=True, slots=True)
class Rounding:
    """Round money to `unit` (yuan, jiao, fen) with `mode` (half_up, half_even, down)."""

    unit: str = "fen"
    mode: str = "half_up"

    def __call__(self, value: Decimal) -> Decimal:
        return value.quantize(ROUNDING_QUANTA[self.unit], rounding=ROUNDING_MODES[self.mode])


# ------------------------------------------------------------------------------ formatting


# Formatting is exact whatever the decimal context: `%`, `/` and normalize() would round an amount
# of more than 28 digits in the default context (or fail outright), and show a figure that is not
# the one decided.  It works on the figure's plain text (format "f" never rounds), which is cheap:
# every explanation formats a few figures for each applicant.
def yuan(value: Decimal | None) -> str:
    """An amount the way a drafter writes it: 100万元, 1.5亿元, 2345.67元."""
    if value is None:
        return "未定"
    text = _plain(value)
    if "." not in text:
        size = len(text) - (text[0] == "-")  # digits of a whole amount
        if size >= 9 and text.endswith("000000"):  # at least 1亿, in whole 100万s: at most 2 places
            return _moved(text, 8) + "亿元"
        if size >= 5 and text.endswith("00"):  # at least 1万, in whole 100s: at most 2 places
            return _moved(text, 4) + "万元"
    return text + "元"


def _moved(text: str, places: int) -> str:
    """The plain text of a whole number of more than `places` digits, divided by 10^places."""
    tail = text[-places:].rstrip("0")
    return text[:-places] + "." + tail if tail else text[:-places]


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def show(value: Any) -> str:
    """Any fact value for an explanation."""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, Decimal):
        return _plain(value)
    if value is None:
        return "未知"
    if isinstance(value, frozenset):
        return "、".join(sorted(value))
    return str(value)


# ------------------------------------------------------------------------------ the applicant


@dataclasses.dataclass(frozen=True, slots=True)
class FactSpec:
    """What a fact accepts: `kind` (money, percent, number, count, bool, date, text, enum, roles,
    duration), count `unit`, enum `members` (name -> label), literal `bounds` ((op, value)...) and,
    for the applicant's roles, the `exclusive` groups (roles of one group exclude each other)."""

    name: str
    label: str
    kind: str
    unit: str | None = None
    members: tuple[tuple[str, str], ...] = ()
    bounds: tuple[tuple[str, Decimal], ...] = ()
    exclusive: tuple[tuple[str, ...], ...] = ()


# Units that count whole things: a count of one of these is a whole number; any other unit (亩,
# 平方米, a unit the policy declares) measures an amount that need not be whole.
COUNTING_UNITS = ("家", "人", "场", "项", "条", "次", "个", "件", "台", "套", "名", "所")
# How a measure pays (`pays`), English -> the words of real texts (syntax/keywords.py reads its vocabulary
# from here).  The money forms are paid to the applicant as money; any other is a service bought for
# it, a voucher, an equity stake or a subsidy of its loan interest, which a total counts at face value
# but never as cash (the decision says so: payment_forms_note).
PAYMENT_FORM_WORDS = {
    "cash": "现金",
    "grant": "奖补",
    "reward": "奖励",
    "subsidy": "补助",
    "voucher": "消费券",
    "interest_subsidy": "贴息",
    "equity": "股权投入",
    "purchase_of_service": "购买服务",
}
MONEY_FORMS = frozenset({"cash", "grant", "reward", "subsidy"})


def whole_unit(unit: str | None) -> bool:
    """Whether a count of `unit` is a whole number (a counting unit, or a count with no unit)."""
    return unit is None or unit in COUNTING_UNITS


_TRUE = frozenset({"true", "是", "yes", "1"})
_FALSE = frozenset({"false", "否", "no", "0"})
# 亿, 万 and 千 as powers of ten: applied by moving the decimal point, which is exact at any length.
_SHIFTS = {"亿": 8, "万": 4, "千": 3}
# A figure of 10^MAX_DIGITS or more is refused, in facts as in policy text: no subsidy is that
# large, so it is a typing error, and refusing it keeps every computation far from the limits of
# the arithmetic (60 significant digits, exponents up to 999999).
MAX_DIGITS = 40
# Nor has any figure a nonzero digit beyond the 40th decimal place (a 分 is the second; a rate of one
# third written out to 30 places is the finest anyone types): this keeps a text such as `1e-999999999`
# from becoming a billion digits when it is written out, compared exactly or solved.
MAX_PLACES = 40
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


# A context in which scaleb never rounds or overflows: shift only moves the exponent.
_EXACT = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN, traps=[])


def shift(value: Decimal, places: int) -> Decimal:
    """`value` times 10^places, exactly: the digits are kept and only the exponent moves."""
    assert value.is_finite(), "only finite numbers are shifted"
    return value.scaleb(places, _EXACT)


# `1,000` and `1,234,567.5`: a comma only between groups of three digits
_GROUPED = re.compile(r"[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?")


def odd_characters(text: str) -> str | None:
    """Why `text` cannot be a figure as it looks, or None: a character that cannot be seen (a format
    or control character) or a digit of another script (`৪` looks like 8 and is 4), named by its code
    point."""
    odd = odd_character(text)
    if odd is None:
        return None
    char, invisible = odd
    what = "an invisible character" if invisible else "a digit that is not 0-9"
    return f"`{text}` holds {what}: {char}"


def _odd_problem(text: str) -> Problem | None:
    """odd_characters as a Problem."""
    odd = odd_character(text)
    if odd is None:
        return None
    char, invisible = odd
    if invisible:
        return problem(
            "input.invisible_character",
            f"`{text}` holds an invisible character: {char}",
            value=text,
            char=char,
        )
    return problem(
        "input.foreign_digit", f"`{text}` holds a digit that is not 0-9: {char}", value=text, char=char
    )


def odd_character(text: str) -> tuple[str, bool] | None:
    """The first character of `text` that makes it look like another figure, named by its code
    point (`U+09EA BENGALI DIGIT FOUR`), and whether it is invisible (else a digit of another
    script); None when there is none."""
    for char in text:
        category = unicodedata.category(char)
        if category in ("Cf", "Cc") or (char.isdigit() and not char.isascii()):
            name = unicodedata.name(char, "")
            return f"U+{ord(char):04X}" + (f" {name}" if name else ""), category in ("Cf", "Cc")
    return None


def too_precise(value: Decimal, places: int = 0) -> bool:
    """Whether `value` times 10^places has a nonzero digit beyond MAX_PLACES after the decimal point."""
    _, digits, exponent = value.as_tuple()
    if not value or not isinstance(exponent, int):
        return False
    written = "".join(map(str, digits))
    return exponent + places + len(written) - len(written.rstrip("0")) < -MAX_PLACES


def _number(raw: Any, suffixes: Iterable[str] = ()) -> Decimal:
    places = 0
    if isinstance(raw, bool):
        raise _bad("input.number_not_bool", "a number, not true/false")
    if isinstance(raw, int | Decimal):
        value = Decimal(raw)
    elif isinstance(raw, float):
        raise _bad(
            "input.binary_float",
            "a decimal number written exactly (as text or an integer), not a binary float",
        )
    elif isinstance(raw, str):
        # full-width digits and signs (as typed with a Chinese input method) are the ASCII ones
        text = unicodedata.normalize("NFKC", raw).strip()
        odd = _odd_problem(text)
        if odd is not None:
            raise BadValue(odd)
        for suffix in suffixes:
            if text.endswith(suffix):
                text = text[: -len(suffix)]
                break
        if text[-1:] in _SHIFTS:
            places, text = _SHIFTS[text[-1]], text[:-1]
        if "," in text:
            if not _GROUPED.fullmatch(text.strip()):
                raise _bad(
                    "input.comma_groups",
                    f"`{raw}`: a comma separates digits only in groups of three (1,000,000)",
                    value=str(raw),
                )
            text = text.replace(",", "")
        try:
            value = Decimal(text)
        except decimal.InvalidOperation:
            raise _bad("input.not_a_number", f"`{raw}` is not a number", value=str(raw)) from None
    else:
        raise _bad("input.number_not_type", f"a number, not {type(raw).__name__}", type=type(raw).__name__)
    if not value.is_finite():
        raise _bad("input.not_finite", f"`{raw}` is not a finite number", value=str(raw))
    if value and value.adjusted() + places >= MAX_DIGITS:
        raise _bad(
            "input.too_large",
            f"`{raw}` is too large (figures are limited to {MAX_DIGITS} digits)",
            value=str(raw),
            digits=str(MAX_DIGITS),
        )
    if too_precise(value, places):
        raise _bad(
            "input.too_precise",
            f"`{raw}` is too precise (figures have at most {MAX_PLACES} decimal places)",
            value=str(raw),
            places=str(MAX_PLACES),
        )
    return shift(value, places)


def parse_fact(spec: FactSpec, raw: Any) -> Any:
    """One raw value (from JSON, CSV or Python) as the fact's type, or ValueError saying why not.
    Checked in the evaluator's own context: a caller's context (a small `Emax`, say) never turns a
    check into a decimal exception."""
    with decimal.localcontext(CONTEXT):
        return _parse_fact(spec, raw)


def _parse_fact(spec: FactSpec, raw: Any) -> Any:
    kind = spec.kind
    value: Any
    if kind == "money":
        value = _number(raw, ("元",))
        if value < 0 and not any(op in (">", ">=") and b < 0 for op, b in spec.bounds):
            raise _bad(
                "input.negative_money",
                f"an amount of money cannot be negative (got {show(value)})",
                value=show(value),
            )
    elif kind == "percent":
        text = unicodedata.normalize("NFKC", raw).strip() if isinstance(raw, str) else None
        if text is not None and text.endswith("%"):
            value = shift(_number(text[:-1]), -2)
        else:
            value = _number(raw)
            # `60` for 60% would be read as 6000%: a bare figure is a fraction, at most 1
            if abs(value) > 1:
                raise _bad(
                    "input.percent_bare",
                    f"a percentage is a fraction (0.6) or written with % (60%); `{show(value)}` would be "
                    f"{show(value * 100)}%",
                    value=show(value),
                    percent=show(value * 100),
                )
    elif kind == "count":
        value = _number(raw, tuple(u for u in (spec.unit,) if u))
        if whole_unit(spec.unit) and (value < 0 or value != value.to_integral_value()):
            raise _bad(
                "input.count_whole", f"a count is a whole number ≥ 0 (got {show(value)})", value=show(value)
            )
        if value < 0:
            raise _bad(
                "input.count_negative",
                f"an amount in {spec.unit} is at least 0 (got {show(value)})",
                unit=str(spec.unit),
                value=show(value),
            )
    elif kind == "number":
        value = _number(raw)
    elif kind == "bool":
        if isinstance(raw, bool):
            value = raw
        elif isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
            value = raw.strip().lower() in _TRUE
        elif isinstance(raw, int) and raw in (0, 1):
            value = bool(raw)
        else:
            raise _bad("input.not_bool", f"true or false, not `{raw}`", value=str(raw))
    elif kind == "date":
        if isinstance(raw, datetime.date):
            value = raw
        else:
            try:
                value = datetime.date.fromisoformat(str(raw).strip())
            except ValueError:
                raise _bad(
                    "input.not_a_date", f"a date such as 2021-06-01, not `{raw}`", value=str(raw)
                ) from None
    elif kind == "enum":
        text = str(raw).strip()
        names = {name: name for name, _ in spec.members}
        names.update({label: name for name, label in spec.members})
        if text not in names:
            raise _not_member(raw, spec)
        value = names[text]
    elif kind == "roles":
        value = parse_roles(spec, raw)
    elif kind == "text":
        if not isinstance(raw, str | int) or isinstance(raw, bool):
            raise _bad("input.text_not_type", f"a text, not {type(raw).__name__}", type=type(raw).__name__)
        value = str(raw)
    else:
        raise _bad("input.cannot_be_given", f"facts of type {kind} cannot be given", kind=kind)
    for op, bound in spec.bounds:
        if isinstance(value, Decimal) and not _OPS[op](value, bound):
            raise _bad(
                "input.out_of_bounds",
                f"must be {op} {show(bound)} (got {show(value)})",
                op=op,
                bound=show(bound),
                value=show(value),
            )
    return value


def _not_member(raw: Any, spec: FactSpec) -> BadValue:
    """`raw` is none of the members (each by its name and label: either is accepted)."""
    choices = tuple(f"{n}（{label}）" if label != n else n for n, label in spec.members)
    text = f"`{raw}` is not one of {', '.join(choices)}"
    return _bad("input.not_a_member", text, value=str(raw), choices=choices)


# Between the roles of one applicant in a text (a CSV cell): `platform;node_operator`, `平台、二级节点`
_ROLE_SEPARATORS = re.compile(r"[;；、,，]")


def parse_roles(spec: FactSpec, raw: Any) -> frozenset[str]:
    """The applicant's roles: one role (its name or label), several in a list or set, or several in
    one text separated by `;` `、` or `,` (braces around them allowed); every role named once, and
    never two roles the policy says exclude each other."""
    names = {name: name for name, _ in spec.members}
    names.update({label: name for name, label in spec.members})
    # the input is read in NFKC form (full-width letters are the ASCII ones): so is a kind whose name
    # or label holds a compatibility character (豈 U+F900), and the kind is found as declared
    for key, name in list(names.items()):
        names.setdefault(unicodedata.normalize("NFKC", key), name)
    if isinstance(raw, str):
        text = unicodedata.normalize("NFKC", raw).strip()
        if text in names:
            items: list[Any] = [text]
        else:
            text = text[1:-1] if text[:1] == "{" and text[-1:] == "}" else text
            items = [part.strip() for part in _ROLE_SEPARATORS.split(text)]
    elif isinstance(raw, list | tuple | set | frozenset):
        items = list(raw)
    else:
        raise _bad(
            "input.roles_not_type",
            f"a role or a list of roles, not {type(raw).__name__}",
            type=type(raw).__name__,
        )
    roles: list[str] = []
    for item in items:
        role = names.get(item.strip()) if isinstance(item, str) else None
        if role is None and isinstance(item, str):
            role = names.get(unicodedata.normalize("NFKC", item).strip())
        if role is None:
            raise _not_member(item, spec)
        if role in roles:
            raise _bad("input.role_twice", f"`{item}` is given twice", value=str(item))
        roles.append(role)
    if not roles:
        raise _bad("input.no_role", "at least one role")
    for group in spec.exclusive:
        both = [r for r in group if r in roles]
        if len(both) > 1:
            raise _bad(
                "input.roles_exclusive",
                f"`{both[0]}` and `{both[1]}` exclude each other: an applicant is only one of them",
                a=both[0],
                b=both[1],
            )
    return frozenset(roles)


def has_role(roles: frozenset[str], names: tuple[str, ...]) -> bool:
    """Whether an applicant with `roles` has any of the roles `names`."""
    return not roles.isdisjoint(names)


# Keys that name the applicant, never a fact: they are neither read nor reported.
ID_KEYS = frozenset({"id", "_id", "编号"})


def marked_selected(specs: Mapping[str, FactSpec], raw: Mapping[str, Any], fact: str) -> bool:
    """Whether an applicant's raw facts record that it was selected under a quota: the yes/no `fact`
    given as true (facts that cannot be used record nothing)."""
    try:
        values = parse_facts(specs, raw)
    except InputError:
        return False
    return values.get(fact) is True


def unknown_keys(specs: Mapping[str, FactSpec], raw: Mapping[str, Any]) -> tuple[str, ...]:
    """The keys of `raw` that name no fact (an id aside), in their order: what a decision ignores."""
    return tuple(key for key in raw if key not in specs and key not in ID_KEYS)


def extra_keys(specs: Mapping[str, FactSpec], raw: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The unknown_keys of an applicant who gives every fact by its name, or None when another key is
    another spelling of a fact's name (the fact is given twice, and parse_facts decides which counts)."""
    for key in raw:
        spec = specs.get(key)
        if spec is not None and spec.name != key:
            return None
    return unknown_keys(specs, raw)


def unknown_key(specs: Mapping[str, FactSpec], key: str) -> str:
    """`key` names no fact, with the closest fact name when one is close: for a warning or an error."""
    return unknown_key_problem(specs, key).text


def unknown_key_problem(specs: Mapping[str, FactSpec], key: str) -> Problem:
    """unknown_key as a Problem."""
    close = difflib.get_close_matches(key, list(specs), n=1, cutoff=0.6)
    if close:
        return problem(
            "input.no_such_fact_close",
            f"`{key}`: no such fact (did you mean `{close[0]}`?)",
            key=key,
            close=close[0],
        )
    return problem("input.no_such_fact", f"`{key}`: no such fact", key=key)


def missing_facts(names: Iterable[str]) -> InputError:
    """The input error of a decision that needs the facts `names` (as the decision names them)."""
    return InputError([problem("input.missing_fact", f"missing fact {n}", fact=n) for n in names])


def parse_facts(
    specs: Mapping[str, FactSpec], raw: Mapping[str, Any], *, strict: bool = False
) -> dict[str, Any]:
    """Check and convert an applicant's raw facts, reporting every problem at once.

    Empty values (None, "") count as not given.  A key that names no fact is ignored (the decision
    lists it: unknown_keys), or, when `strict`, refused with the closest fact name; an id key is
    neither."""
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    given_as: dict[str, str] = {}
    with decimal.localcontext(CONTEXT):  # as in parse_fact: the caller's context plays no part
        for key, item in raw.items():
            spec = specs.get(key)
            if spec is None:
                if strict and key not in ID_KEYS:
                    problems.append(unknown_key_problem(specs, key))
                continue
            if item is None or (isinstance(item, str) and not item.strip()):
                continue
            if spec.name in given_as:  # one fact under two spellings: which value was meant?
                first = given_as[spec.name]
                problems.append(
                    problem(
                        "input.given_twice",
                        f"`{first}` and `{key}` both give {spec.label}（{spec.name}）; give it once",
                        first=first,
                        second=key,
                        label=spec.label,
                        name=spec.name,
                    )
                )
                continue
            given_as[spec.name] = key
            try:
                values[spec.name] = _parse_fact(spec, item)
            except ValueError as exc:
                reason = exc.problem if isinstance(exc, BadValue) else Problem("", str(exc))
                problems.append(
                    problem(
                        "input.fact",
                        f"`{key}` ({spec.label}): {exc}",
                        key=key,
                        label=spec.label,
                        reason=reason,
                    )
                )
    if problems:
        raise InputError(problems)
    return values


# ------------------------------------------------------------------------------ results


@dataclasses.dataclass(slots=True)
class ClauseOutcome:
    """One clause on one applicant: whether it `applies` (None: cannot tell), its `amount` after caps
    and rounding with its `precision` (exact, at_most, unknown), and the explanation `steps`."""

    id: str
    kind: str
    label: str
    cite: str | None
    exception_of: str | None
    priority: int | None
    applies: bool | None
    amount: Decimal | None = None
    precision: str = EXACT
    steps: list[str] = dataclasses.field(default_factory=list)
    unknown_reason: str | None = None
    floor: Decimal | None = None
    failed: str | None = None  # a clause that does not apply: its failed condition (runtime.unmet)


# A condition as `eval --format json` lists it (MeasureResult.checks, runtime.check): its words,
# article, truth (None: unknown), the facts that decided it in the units the reasons show, and the
# reason sentence.
Check = dict[str, Any]


@dataclasses.dataclass(slots=True)
class MeasureResult:
    """A measure's decision: `status` (determined, ceiling, undetermined, ineligible), the `amount`
    (an entitlement, or the ceiling), payment `forms`, `reasons` (why ineligible or undetermined),
    the `clauses` applied, facts still `needed`, the `explanation`, and the truth of every condition
    (`conditions`, keyed `measure.require.1`, `measure.clause.if.1`…).  A ceiling whose clauses
    state a floor has it in `floor` (the least the applicant is given; None: no floor stated)."""

    measure: str
    label: str
    cite: str | None
    status: str
    amount: Decimal | None
    forms: tuple[str, ...] = ()
    reasons: list[str] = dataclasses.field(default_factory=list)
    clauses: list[str] = dataclasses.field(default_factory=list)
    needed: list[str] = dataclasses.field(default_factory=list)
    explanation: list[str] = dataclasses.field(default_factory=list)
    conditions: dict[str, bool | None] = dataclasses.field(default_factory=dict)
    selection: str | None = None
    floor: Decimal | None = None
    # a measure that draws on a pot: the pot's name and what the applicant's own figures give,
    # (status, amount) before the pot (what a batch shares the pot by)
    pot: str | None = None
    claim: tuple[str, Decimal | None] | None = None
    # each condition evaluated, in order (runtime.check), when the decision was explained
    checks: Sequence[Check] = ()

    def to_dict(self) -> dict[str, Any]:
        out = self._dict()
        if self.pot is not None and self.claim is not None:
            status, amount = self.claim
            out["pot"] = {
                "name": self.pot,
                "claim_status": status,
                "claim": None if amount is None else str(amount),
            }
        return out

    def _dict(self) -> dict[str, Any]:
        return {
            "measure": self.measure,
            "label": self.label,
            "cite": self.cite,
            "status": self.status,
            "amount": None if self.amount is None else str(self.amount),
            "floor": None if self.floor is None else str(self.floor),
            "payment_forms": list(self.forms),
            "reasons": list(self.reasons),
            "clauses": list(self.clauses),
            "needed": list(self.needed),
            "selection": self.selection,
            "explanation": list(self.explanation),
            "conditions": list(self.checks),
        }


Amounts = dict[str, tuple[str, Decimal | None]]
# How a deferred decision works out the rest: (decide, total, args), where decide(*args) is the
# full evaluation of the same applicant and total(amounts, *args) the total from the amounts alone.
Later = tuple[Callable[..., "Decision"], Callable[..., "MeasureResult"], tuple[Any, ...]]


class Decision:
    """The decision on one applicant: per-measure results, the `total` under the policy's combination
    rules, shared `eligibility_failures`, the evaluation `date`, the keys of the input that named no
    fact (`ignored_keys`), and the `path` that decided it.

    `amounts` gives (status, amount) per measure.  A decision made on the fast path of a compiled
    evaluator knows only these at first: the results with their reasons and explanations, the
    eligibility failures and the total are worked out from the same facts the first time they are
    read, and are then kept."""

    __slots__ = ("_amounts", "_failures", "_later", "_measures", "_total", "date", "ignored_keys", "policy")

    # which path decided: "full" (the interpreter, or a compiled evaluator's full path) or "fast"
    path = "full"

    def __init__(
        self,
        policy: str,
        date: datetime.date | None,
        measures: dict[str, MeasureResult],
        total: MeasureResult,
        eligibility_failures: list[str] | None = None,
        ignored_keys: tuple[str, ...] = (),
    ) -> None:
        self.policy = policy
        self.date = date
        self.ignored_keys = ignored_keys
        self._measures: dict[str, MeasureResult] | None = measures
        self._total: MeasureResult | None = total
        self._failures: list[str] | None = [] if eligibility_failures is None else eligibility_failures
        self._amounts: Amounts | None = None
        self._later: Later | None = None

    def _details(self) -> None:
        """Work out what a deferred decision did not know (its `_later` is then done with)."""
        assert self._later is not None
        decide, _, args = self._later
        full = decide(*args)
        self._measures = full.measures
        self._failures = full.eligibility_failures
        if self._total is None:
            self._total = full.total
        self._later = None

    @property
    def measures(self) -> dict[str, MeasureResult]:
        if self._later is not None:
            self._details()
        assert self._measures is not None
        return self._measures

    @property
    def eligibility_failures(self) -> list[str]:
        if self._later is not None:
            self._details()
        assert self._failures is not None
        return self._failures

    @property
    def total(self) -> MeasureResult:
        if self._total is None:
            assert self._later is not None and self._amounts is not None
            _, total, args = self._later
            self._total = total(self._amounts, *args)
        return self._total

    @total.setter
    def total(self, value: MeasureResult) -> None:
        self._total = value

    @property
    def amounts(self) -> Amounts:
        """(status, amount) per measure, in the policy's order."""
        if self._later is not None:
            assert self._amounts is not None
            return self._amounts
        return {name: (m.status, m.amount) for name, m in self.measures.items()}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Decision):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Decision({self.policy!r}, {self.date!r}, {self.amounts!r})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "date": None if self.date is None else self.date.isoformat(),
            "eligibility_failures": list(self.eligibility_failures),
            "ignored_keys": list(self.ignored_keys),
            "measures": [m.to_dict() for m in self.measures.values()],
            "total": self.total.to_dict(),
            "payment_forms_note": forms_note(self.measures.values()),
        }

    def explain(self) -> str:
        """The decision as text, in the drafters' labels."""
        lines = [f"{self.policy}" + (f"（评估日期 {self.date.isoformat()}）" if self.date else "")]
        if self.ignored_keys:
            lines.append("  已忽略（不是本政策的事实）：" + "、".join(self.ignored_keys))
        for failure in self.eligibility_failures:
            lines.append(f"  不符合申报条件：{failure.removeprefix(UNMET)}")
        for m in [*self.measures.values(), self.total]:
            head = f"{m.label}（{m.measure}）" + (f" [{m.cite}]" if m.cite else "")
            lines.append(f"- {head}: {describe(m)}")
            if m.status != INELIGIBLE and set(m.forms) - {"cash"}:  # cash, the default, goes unsaid
                lines.append(f"    支付方式：{form_words(m.forms)}")
            lines.extend(f"    {step}" for step in m.explanation)
            lines.extend(f"    原因：{r}" for r in m.reasons)
            if m.needed:
                lines.append("    尚需：" + "、".join(m.needed))
        note = forms_note(self.measures.values())
        if note:
            lines.append(f"    注意：{note}")
        return "\n".join(lines)


class DeferredDecision(Decision):
    """A decision of which only the `amounts` are known at first: `later` works out the rest (the
    results and eligibility failures, or just the total) the first time they are read."""

    __slots__ = ()

    path = "fast"

    def __init__(
        self,
        policy: str,
        date: datetime.date | None,
        amounts: Amounts,
        later: Later,
        ignored_keys: tuple[str, ...] = (),
    ) -> None:
        self.policy = policy
        self.date = date
        self.ignored_keys = ignored_keys
        self._amounts = amounts
        self._later = later
        self._total = None


STATUS_WORDS = {DETERMINED: "确定金额", CEILING: "最高", UNDETERMINED: "金额未定", INELIGIBLE: "不符合"}


def form_words(forms: Sequence[str]) -> str:
    """A measure's payment forms in the words of the texts (`购买服务`); cash when none is said."""
    return "、".join(PAYMENT_FORM_WORDS.get(f, f) for f in forms) or "现金"


# the note's frame around the measures' words, joined with `；` (the SQL engines build the same)
FORMS_NOTE = ("合计按面值计入非现金支付形式的金额：", "；这些金额不以现金发放")


def noncash_words(label: str, forms: Sequence[str]) -> str | None:
    """`label（form words）` for a measure paid in a form other than money; None when paid as money."""
    return None if set(forms or ("cash",)) <= MONEY_FORMS else f"{label}（{form_words(forms)}）"


def forms_note(results: Iterable[MeasureResult]) -> str | None:
    """What the reader is told when the total counts an award that is not paid as money (a service
    bought, a voucher, equity, an interest subsidy): which measures, in which form.  None: every
    measure that pays something pays money."""
    words = [
        w
        for m in results
        if m.status != INELIGIBLE
        and (m.amount is None or m.amount > 0)
        and (w := noncash_words(m.label, m.forms)) is not None
    ]
    return f"{FORMS_NOTE[0]}{'；'.join(words)}{FORMS_NOTE[1]}" if words else None


def describe(result: MeasureResult) -> str:
    """`确定金额 50万元`, `最高 100万元`, `最低 10万元，最高 100万元`, `金额未定`, `不符合`."""
    if result.status == CEILING and result.amount is not None and result.floor is not None:
        return f"最低 {yuan(result.floor)}，最高 {yuan(result.amount)}"
    if result.status in (DETERMINED, CEILING) and result.amount is not None:
        return f"{STATUS_WORDS[result.status]} {yuan(result.amount)}"
    if result.status == UNDETERMINED and result.amount is not None:
        return f"金额未定（不超过 {yuan(result.amount)}）"
    return STATUS_WORDS[result.status]


# ------------------------------------------------------------------------------ reasons

# Why a condition failed, in the reader's words.  The plan's `specs.unmet_data` describes each
# requirement, exclusion and clause condition as plain data, which the interpreter and every
# generated evaluator hand to the same functions below, so that every back end gives the same
# reasons.  An Unmet is (words, article, parts, conjunctive): the condition in the drafter's words,
# its article, a Part per fact it reads, and whether it is a conjunction of those parts alone (then
# only the parts that fail are shown).  A Part is (shape, fact name, label, kind, unit, members, op,
# words, bound): shape "cmp" (the fact compared by `op` with the figure `bound`, written `words`),
# "since" (the time from the date fact to the evaluation date compared by `op` with `bound`, a
# (count, unit) duration written `words`), "in" (the enum fact `op` "in" or "not in" the members
# `bound`), "is" (a yes/no fact that must be `bound`), or "value" (a fact read some other way, shown
# as it is); `members` are the enum's (value, label) pairs.  The op is what the condition needs (a
# `not` or an exclusion already turned round).  Shape "years" is a schedule's award years: the year
# of the evaluation date counted from the date fact (year_no) between the (first, last) `bound`.
Part = tuple[str, str, str, str, "str | None", tuple[tuple[str, str], ...], str, str, Any]
Unmet = tuple[str, "str | None", tuple[Part, ...], bool]

UNMET = "未满足："
MISSING = "缺少："
NO_AWARD_MET = "未满足任何给予条件："
# how a comparison that failed reads, by the operator it needed (以上 is >=, 超过 >, 不满 <)
_FAILED_CMP = {">": "未超过", ">=": "不满", "<": "达到", "<=": "超过", "==": "不是", "!=": "是"}
_FAILED_SINCE = {">": "未超过", ">=": "未满", "<": "已满", "<=": "已超过", "==": "不是", "!=": "恰为"}


def fact_words(value: Any, kind: str, unit: str | None, members: tuple[tuple[str, str], ...]) -> str:
    """A fact's value as a reason shows it: an enum value by its label, yes/no, a date, a figure
    in its unit (runtime.fact_figure)."""
    if members and isinstance(value, frozenset):  # the applicant's roles, as read_facts gives them
        key = (value, members)
        words = _ROLES_SHOWN.get(key)
        if words is None:
            words = _roles_words(value, members)
            if len(_ROLES_SHOWN) < _KEPT:
                _ROLES_SHOWN[key] = words
        return words
    if members and isinstance(value, set | list | tuple):
        return _roles_words(value, members)
    if members:
        return dict(members).get(str(value), show(value))
    if isinstance(value, datetime.date):
        return value.isoformat()
    if kind == "count" and isinstance(value, Decimal):
        return yuan(value).removesuffix("元") + (unit or "")  # 2000万条, as the text writes counts
    return fact_figure(value, kind, unit)


# Every measure that admits other kinds of applicant says which kinds this one has, so the words for
# a set of roles, and the reasons a failed applicants gate gives, are kept once worked out (a policy
# has few kinds, an applicant one or two of them); at most _KEPT of each, then no more are kept.
_KEPT = 4096
_ROLES_SHOWN: dict[tuple[frozenset[str], tuple[tuple[str, str], ...]], str] = {}
_ROLE_UNMET: dict[tuple[str, frozenset[str], str, tuple[tuple[str, str], ...]], str] = {}


def _roles_words(roles: Iterable[str], members: tuple[tuple[str, str], ...]) -> str:
    labels = dict(members)
    return "、".join(labels.get(str(v), str(v)) for v in sorted(roles))


def part_holds(part: Part, value: Any, date: datetime.date | None) -> bool | None:
    """Whether one part of a conjunction holds (None: it cannot be told here)."""
    shape, op, bound = part[0], part[6], part[8]
    if value is None:
        return None
    if shape == "cmp":
        return bool(_OPS[op](value, bound))
    if shape == "since":
        return None if date is None else since_compare(value, date, op, bound[0], bound[1])
    if shape == "in":
        return bool(value in bound) is (op == "in")
    if shape == "is":
        return bool(value) is bool(bound)
    if shape == "years":
        return None if date is None else bound[0] <= year_no(value, date) <= bound[1]
    return None


def _part_words(part: Part, value: Any, date: datetime.date | None, alone: bool, said: str = "") -> str:
    shape, _, label, kind, unit, members, op, words, _ = part
    if value is None:
        return MISSING + label
    shown = fact_words(value, kind, unit, members)
    if shape == "cmp":
        return ("实际 " if alone else f"{label} ") + f"{shown}，{_FAILED_CMP[op]}{words}"
    if shape == "since" and date is not None:
        return f"{label} {shown}，至评估日 {date.isoformat()} {_FAILED_SINCE[op]}{words}"
    if shape == "years" and date is not None:
        first, last = part[8]
        period = f"第{first}年" if first == last else f"第{first}至{last}年"
        year = year_no(value, date)
        said_year = f"为第{year}年" if year >= 1 else f"早于{label}当年"
        return f"{label} {shown}，评估日 {date.isoformat()} {said_year}，奖励期为{period}"
    return f"实际：{shown}" if alone and label in said else f"{label}：{shown}"


def unmet(data: Unmet, values: Mapping[str, Any], date: datetime.date | None) -> str:
    """A failed condition: its words, then the facts that decided it (a comparison in statutory
    words), then its article: `成立时间满1年（成立日期 2020-05-17，至评估日 2021-05-16 未满1年）
    [第九条(一)]`."""
    said, cite, parts, conjunctive = data
    if len(parts) == 1:  # most conditions read one fact
        part = parts[0]
        shown = _part_words(part, values.get(part[1]), date, True, said)
    else:
        if conjunctive:
            failing = [p for p in parts if part_holds(p, values.get(p[1]), date) is not True]
            parts = tuple(failing) or parts
        shown = "；".join(_part_words(p, values.get(p[1]), date, False, said) for p in parts)
    return said + (f"（{shown}）" if shown else "") + (f"[{cite}]" if cite else "")


def undecided_reason(data: Unmet, values: Mapping[str, Any]) -> str:
    """A condition that cannot be told: its words and the facts it lacks (`缺少：成立日期`)."""
    said, _, parts, _ = data
    lacking = list(dict.fromkeys(p[2] for p in parts if values.get(p[1]) is None))
    return said + (f"（{MISSING}{'、'.join(lacking)}）" if lacking else "")


MET = "满足："
UNDECIDED = "尚无法判断："


def check(data: Unmet, holds: bool | None, values: Mapping[str, Any], date: datetime.date | None) -> Check:
    """One condition evaluated, from its Unmet and its truth: `{label, article, value, facts, text}`,
    the text worded as the reasons word it (unmet, undecided_reason) and, when it holds, `满足：…`."""
    said, cite, parts, _ = data
    facts: dict[str, str | None] = {}
    for part in parts:
        value = values.get(part[1])
        facts[part[2]] = None if value is None else fact_words(value, part[3], part[4], part[5])
    if holds is False:
        text = UNMET + unmet(data, values, date)
    elif holds is None:
        text = UNDECIDED + undecided_reason(data, values)
    else:
        alone = len(facts) == 1  # a fact its words already name shows as `实际：…` (as unmet does)
        shown = "；".join(
            f"{'实际' if alone and label in said else label}：{value}" for label, value in facts.items()
        )
        text = MET + said + (f"（{shown}）" if shown else "") + (f"[{cite}]" if cite else "")
    return {"label": said, "article": cite, "value": holds, "facts": facts, "text": text}


def role_unmet(reason: str, roles: frozenset[str] | None, fact: FactSpec) -> str:
    """The applicants gate that fails or cannot be told: `未满足：适用主体为 园区（申报主体：工业企业）`,
    `适用主体为 园区（缺少：申报主体）`."""
    if roles is None:
        return f"{reason}（{MISSING}{fact.label}）"
    try:  # the words of a frozenset depend on these alone (fact_words)
        return _ROLE_UNMET[reason, roles, fact.label, fact.members]
    except (KeyError, TypeError):  # not yet kept, or roles given as a set
        text = UNMET + f"{reason}（{fact.label}：{fact_words(roles, fact.kind, fact.unit, fact.members)}）"
        if type(roles) is frozenset and len(_ROLE_UNMET) < _KEPT:
            _ROLE_UNMET[reason, roles, fact.label, fact.members] = text
        return text


def role_check(reason: str, kinds: tuple[str, ...], roles: frozenset[str] | None, fact: FactSpec) -> Check:
    """The applicants gate as a Check: `reason` (适用主体为 …), holding when `roles` has one of `kinds`."""
    holds = None if roles is None else has_role(roles, kinds)
    shown = None if roles is None else fact_words(roles, fact.kind, fact.unit, fact.members)
    if holds is None:
        text = UNDECIDED + role_unmet(reason, roles, fact)
    elif holds:
        text = MET + f"{reason}（{fact.label}：{shown}）"
    else:
        text = role_unmet(reason, roles, fact)
    return {"label": reason, "article": None, "value": holds, "facts": {fact.label: shown}, "text": text}


def none_applies(failed: Iterable[str | None], fallback: str) -> str:
    """Why no award clause applies: each clause's failed condition (`fallback`, the plan's reason,
    when none was recorded)."""
    said = [f for f in failed if f]
    return NO_AWARD_MET + "；".join(said) if said else fallback


# ------------------------------------------------------------------------------ three-valued logic


def and3(a: bool | None, b: Callable[[], bool | None]) -> bool | None:
    """Kleene conjunction; `b` is evaluated only when needed."""
    if a is False:
        return False
    right = b()
    if right is False:
        return False
    return None if a is None or right is None else True


def or3(a: bool | None, b: Callable[[], bool | None]) -> bool | None:
    if a is True:
        return True
    right = b()
    if right is True:
        return True
    return None if a is None or right is None else False


def not3(a: bool | None) -> bool | None:
    return None if a is None else not a


# ------------------------------------------------------------------------------ failed arithmetic

# What can go wrong in the arithmetic of a well-typed policy: a division by zero (or 0/0), a figure
# too large to hold or to round, a date outside years 1 to 9999.  Each makes a figure unknown, with
# the reason failure() gives; none may escape as an exception.
ARITHMETIC = (decimal.DecimalException, OverflowError)


class SizeNotPositive(decimal.InvalidOperation):
    """`blocks` or `round_down` by a unit below zero (a unit of zero is a division by zero)."""


def failure(what: str, exc: BaseException) -> str:
    """Why `what` (a formula as written, a measure) has no value, for an explanation."""
    # 0/0 raises InvalidOperation, whose list of signals names DivisionUndefined
    signals = exc.args[0] if exc.args and isinstance(exc.args[0], list) else []
    if isinstance(exc, ZeroDivisionError) or decimal.DivisionUndefined in signals:
        return f"{what}：除数为零"
    if isinstance(exc, SizeNotPositive):
        return f"{what}：计数单位小于零"
    if isinstance(exc, decimal.DecimalException):
        return f"{what}：计算结果超出可计算范围"
    return f"{what}：日期超出公元1年至9999年的范围"


def _floor_div(value: Decimal, size: Decimal) -> Decimal:
    """floor(value / size), exactly; the size must be more than zero."""
    if size == 0:
        raise decimal.DivisionByZero("division by zero")
    if size < 0:
        raise SizeNotPositive("the unit is below zero")
    # enough digits for the whole quotient, so that divmod is exact (it truncates toward zero);
    # beyond a thousand digits the figure is out of range, as an overflow is
    digits = max(CONTEXT.prec, value.adjusted() - size.adjusted() + 3)
    if digits > 1000:
        raise decimal.Overflow("the number of whole units is too large")
    with decimal.localcontext(CONTEXT) as context:
        context.prec = digits
        whole, rest = divmod(value, size)
        return whole - 1 if rest < 0 else whole


def blocks(value: Decimal, size: Decimal) -> Decimal:
    """How many whole `size`s fit in `value` (每满): 0 below one size, and for a negative value."""
    whole = _floor_div(value, size)
    return whole if whole > 0 else ZERO


def round_down(value: Decimal, size: Decimal) -> Decimal:
    """`value` rounded down to a whole multiple of `size` (toward minus infinity)."""
    whole = _floor_div(value, size)
    with decimal.localcontext(CONTEXT):
        return whole * size


def progressive(subject: Decimal, rows: Sequence[tuple[Any, Any, Any]]) -> Decimal:
    """Progressive brackets (超额累进): the sum over `rows` (lower, upper, rate) of the rate times the
    part of `subject` inside the row, max(0, min(subject, upper) - lower); a row without a lower
    limit starts from zero, one without an upper limit has no end."""
    return sum((amount for _, _, _, amount in bracket_parts(subject, rows)), ZERO)


def bracket_parts(
    subject: Any, rows: Sequence[tuple[Any, Any, Any]]
) -> list[tuple[int, Decimal, Decimal, Decimal]]:
    """(row index, part, rate, amount) of each row of progressive brackets that charges some of
    `subject`."""
    out = []
    for i, (lower, upper, rate) in enumerate(rows):
        part = (subject if upper is None else min(subject, upper)) - (ZERO if lower is None else lower)
        if part > 0:
            out.append((i, part, rate, rate * part))
    return out


Shown = tuple[str, str | None]  # how a figure is shown: its kind and unit (runtime.figure)


def figure(value: Any, shown: Shown) -> str:
    """A figure for an explanation, by its kind: 100万元, 10%, 12家, 100元/亩, 3."""
    kind, unit = shown
    match kind:
        case "money":
            return yuan(value)
        case "percent":
            return f"{_plain(shift(value, 2))}%"
        case "count":
            return f"{_plain(value)}{unit or ''}"
        case "per_unit":
            return f"{yuan(value)}/{unit or ''}"
    return _plain(value)


def fact_figure(value: Any, kind: str, unit: str | None) -> str:
    """A fact's value for an explanation: money in 元, a percentage with %, a quantity with its
    unit (120.5亩, 80家); anything else as `show` gives it."""
    if isinstance(value, Decimal) and kind in ("money", "percent", "count"):
        return figure(value, (kind, unit))
    return show(value)


def fact_shown(value: Any, kind: str, unit: str | None, members: tuple[tuple[str, str], ...]) -> str:
    """A fact's value for an explanation: an enum value (or the applicant's roles) by its label,
    anything else as fact_figure gives it."""
    if members and value is not None:
        return fact_words(value, kind, unit, members)
    return fact_figure(value, kind, unit)


def bracket_step(
    steps: list[str], text: str, subject: Any, rows: Sequence[tuple[Any, Any, Any]], shown: Sequence[Shown]
) -> None:
    """`超额累进：text = subject，part × rate = amount；…`, the arithmetic of progressive brackets;
    `shown` says how the subject, the amounts and each row's rate are shown."""
    of_subject, of_amount, *of_rates = shown
    parts = [
        f"{figure(part, of_subject)} × {figure(rate, of_rates[i])} = {figure(amount, of_amount)}"
        for i, part, rate, amount in bracket_parts(subject, rows)
    ]
    steps.append(f"超额累进：{text} = {figure(subject, of_subject)}，" + ("；".join(parts) or "各段均为零"))


def whole_step(steps: list[str], func: str, text: str, value: Any, size: Any, shown: Sequence[Shown]) -> None:
    """`每满 size：text = value，计 n` (blocks) or `按 size 向下取整：text = value，取 result`."""
    of_value, of_size = shown
    head = f"{text} = {figure(value, of_value)}"
    if func == "blocks":
        steps.append(f"每满 {figure(size, of_size)}：{head}，计 {_plain(blocks(value, size))}")
    else:
        steps.append(
            f"按 {figure(size, of_size)} 向下取整：{head}，取 {figure(round_down(value, size), of_value)}"
        )


def band_step(
    steps: list[str],
    text: str,
    subject: Any,
    rows: Sequence[tuple[tuple[str, Any], ...] | None],
    words: Sequence[str],
    shown: Sequence[Shown],
) -> None:
    """`分档：text = subject，适用「words」`, the band that applied (the first whose bounds hold)."""
    head = f"分档：{text} = {figure(subject, shown[0])}"
    for bounds, said in zip(rows, words, strict=True):
        if bounds is None or all(_OPS[op](subject, bound) for op, bound in bounds):
            steps.append(f"{head}，适用「{said}」")
            return


def calendar_year(date: datetime.date) -> Decimal:
    """`year(d)`: the calendar year of a date, a plain number."""
    return Decimal(date.year)


def year_no(start: datetime.date, today: datetime.date) -> Decimal:
    """`year_no(d)`: the year of `today` counted from the year of `start` as year 1 (自…当年起第N年);
    0 or below when `today` falls in an earlier year."""
    return Decimal(today.year - start.year + 1)


def year_step(
    steps: list[str], event: str, year: Any, rows: Sequence[tuple[int, int]], words: Sequence[str]
) -> None:
    """`逐年：自event当年起第N年，适用「第1至2年：80%」`, the row of a schedule by year that applied."""
    for (first, last), said in zip(rows, words, strict=True):
        if year is not None and first <= year <= last:
            steps.append(f"逐年：自{event}当年起第{year}年，适用「{said}」")
            return


def add_duration(start: datetime.date, count: int, unit: str) -> datetime.date:
    """`start` plus whole years, months or days; 29 Feb plus a year is 28 Feb (满 counts full periods).
    OverflowError when the day falls outside the calendar (years 1 to 9999)."""
    if unit == "day":
        try:
            return start + datetime.timedelta(days=count)
        except OverflowError:
            raise OverflowError("the date falls outside years 1 to 9999") from None
    if unit == "year":
        year = start.year + count
        try:
            return datetime.date(year, start.month, start.day)
        except ValueError:
            if not datetime.MINYEAR <= year <= datetime.MAXYEAR:
                raise OverflowError("the date falls outside years 1 to 9999") from None
            return datetime.date(year, 2, 28)  # from 29 February
    months = start.month - 1 + (count * 12 if unit == "year" else count)
    year, month = start.year + months // 12, months % 12 + 1
    if not datetime.MINYEAR <= year <= datetime.MAXYEAR:
        raise OverflowError("the date falls outside years 1 to 9999")
    for day in (start.day, 30, 29, 28):
        try:
            return datetime.date(year, month, min(start.day, day))
        except ValueError:
            continue
    raise ValueError("unreachable")


def since_compare(start: datetime.date, today: datetime.date, op: str, count: int, unit: str) -> bool:
    """`since(start) op count unit`: compare the time from `start` to `today` with a duration."""
    try:
        boundary = add_duration(start, count, unit)
    except OverflowError:
        # the duration ends after 9999-12-31 (or, negative, before year 1): no day reaches it
        later = count > 0
        return {">=": not later, ">": not later, "<": later, "<=": later, "==": False, "!=": True}[op]
    # elapsed >= duration  <=>  boundary <= today
    return {
        ">=": boundary <= today,
        ">": boundary < today,
        "<": boundary > today,
        "<=": boundary >= today,
        "==": boundary == today,
        "!=": boundary != today,
    }[op]


# ------------------------------------------------------------------------------ floors and offsets


def lift(value: Decimal, floor: Decimal, text: str, ceiling: bool, steps: list[str] | None) -> Decimal:
    """A clause's figure with its floor (保底 `text`), before the caps: at least the floor.  On a
    ceiling the floor is also the lower bound, which `settle_bounds` keeps."""
    binds = floor > value
    if steps is not None:
        if ceiling:
            steps.append(f"最低 {text}：{yuan(floor)}" + ("（高于最高额，最高额取此值）" if binds else ""))
        else:
            steps.append(f"保底 {text}：{yuan(floor)}" + ("（起作用）" if binds else "（未起作用）"))
    return floor if binds else value


def settle_bounds(
    value: Decimal,
    floor: Decimal | None,
    offset: Decimal | None,
    ceiling: bool,
    texts: tuple[str | None, str | None],
    steps: list[str] | None,
) -> tuple[Decimal, Decimal | None]:
    """A clause's amount after its caps, with its floor and offset (`texts`: each as written): the
    lower bound of a ceiling (the floor, no higher than the capped amount: a cap is the legal limit
    and wins over a floor), then the offset deducted from both bounds, each floored at zero.
    Returns (amount, lower bound: None unless a ceiling has a floor)."""
    floor_text, offset_text = texts
    lower = None
    if floor is not None and floor > value and steps is not None:
        steps.append(f"保底 {floor_text} {yuan(floor)} 高于封顶后的 {yuan(value)}，以封顶为准")
    if floor is not None and ceiling:
        lower = min(floor, value)
    if offset is not None:
        reduced = max(value - offset, ZERO)
        if steps is not None:
            owed = "最高" if ceiling else "应奖"
            got = f"扣除已获 {offset_text}：{owed} {yuan(value)}，扣除已获 {yuan(offset)}，"
            if ceiling:
                got += f"最高 {yuan(reduced)}"
                if lower is not None:
                    got += f"；最低 {yuan(lower)} 扣除后为 {yuan(max(lower - offset, ZERO))}"
            else:
                got += f"补足 {yuan(reduced)}" if reduced > 0 else "不再给予（0元）"
            steps.append(got)
        value = reduced
        if lower is not None:
            lower = max(lower - offset, ZERO)
    return value, lower


def ceiling_step(steps: list[str], value: Decimal, lower: Decimal | None) -> None:
    """The last step of a discretionary amount: its bounds."""
    bounds = f"最高 {yuan(value)}" if lower is None else f"最低 {yuan(lower)}，最高 {yuan(value)}"
    steps.append(f"{bounds}（酌情核定，非确定金额）")


# ------------------------------------------------------------------------------ settling a measure


def settle_clauses(outcomes: list[ClauseOutcome]) -> tuple[list[ClauseOutcome], list[str], bool]:
    """Apply exceptions: an applying exception replaces its default; the highest priority wins among
    exceptions of one default.  Returns the winning clauses, reasons for any undecided choice, and
    whether the choice is undecided."""
    by_id = {o.id: o for o in outcomes}
    reasons: list[str] = []
    undecided = False
    overridden: set[str] = set()
    defaults: dict[str, list[ClauseOutcome]] = {}
    for o in outcomes:
        if o.exception_of is not None and o.applies is not False:
            defaults.setdefault(o.exception_of, []).append(o)
    for default_id, exceptions in defaults.items():
        firing = [e for e in exceptions if e.applies is True]
        maybe = [e for e in exceptions if e.applies is None]
        if maybe:
            undecided = True
            reasons.append("无法判断例外条款是否适用：" + "、".join(e.label for e in maybe))
        if not firing:
            continue
        best = max(e.priority or 0 for e in firing)
        winners = [e for e in firing if (e.priority or 0) == best]
        if len(winners) > 1:
            undecided = True
            reasons.append("例外条款优先级相同且同时适用：" + "、".join(e.label for e in winners))
        overridden.add(default_id)
        overridden.update(e.id for e in firing if (e.priority or 0) < best)
        for e in firing:
            if e.id in overridden:
                continue
            target = by_id.get(default_id)
            if target is not None and target.applies:
                e.steps.insert(0, f"例外：取代 {target.label}")
    chosen = [o for o in outcomes if o.applies is True and o.id not in overridden]
    return chosen, reasons, undecided


def combine_precision(*precisions: str) -> str:
    if UNKNOWN in precisions:
        return UNKNOWN
    if AT_MOST in precisions:
        return AT_MOST
    return EXACT


def _clause_words(outcome: Any, measure: str) -> str:
    """A clause as a reason names it: its label, or for a clause written without one, its measure and
    its place (`二级节点运营奖励 第1项给予条件`), never its id."""
    if outcome.label != outcome.id:
        return str(outcome.label)
    place = outcome.id.rpartition(".")[2]
    return f"{measure} 第{place}项给予条件" if place.isdigit() else measure


def finish_measure(
    result: MeasureResult,
    outcomes: list[ClauseOutcome],
    rounding: Rounding,
    funding: tuple[Decimal | None, Decimal | None, str] | None,
    instalments: list[tuple[str, str, Decimal | None, bool | None]],
    no_clawback: bool,
) -> MeasureResult:
    """Turn the clause outcomes of an eligible measure into its result: exceptions, sums, bonuses,
    the cross-funding ceiling and staged payment."""
    for o in outcomes:
        result.conditions[o.id] = o.applies
    awards = [o for o in outcomes if o.kind == "award"]
    bonuses = [o for o in outcomes if o.kind == "bonus"]
    chosen, reasons, undecided = settle_clauses(awards)
    unknown_awards = [o for o in awards if o.applies is None and o.exception_of is None]
    if not chosen and not unknown_awards and not undecided:
        result.status = INELIGIBLE
        labels = "、".join(o.label for o in awards) or "（无条款）"
        result.reasons.append(none_applies((o.failed for o in awards), f"不满足任何给予条件：{labels}"))
        return result
    if unknown_awards:
        undecided = True
        reasons.append(
            "无法判断是否适用：" + "、".join(_clause_words(o, result.label) for o in unknown_awards)
        )
    chosen_bonus = [b for b in bonuses if b.applies is True] if chosen else []
    for b in bonuses:
        if b.applies is None and chosen:
            undecided = True
            reasons.append(f"无法判断追加条款 {b.label} 是否适用")
    total = ZERO
    precision = EXACT
    # the least the measure gives, when a clause states a floor: the floors of ranges and the
    # determined amounts (a ceiling without a floor adds nothing)
    lower: Decimal | None = None
    for o in [*chosen, *chosen_bonus]:
        result.clauses.append(o.id)
        result.explanation.extend(o.steps)
        if o.unknown_reason:
            reasons.append(o.unknown_reason)
        precision = combine_precision(precision, o.precision)
        if o.amount is not None:
            total += o.amount
        if o.floor is not None:
            lower = (lower or ZERO) + o.floor
    if lower is not None:
        lower += sum((o.amount or ZERO for o in [*chosen, *chosen_bonus] if o.precision == EXACT), ZERO)
    if len(chosen) + len(chosen_bonus) > 1 and precision != UNKNOWN:
        result.explanation.append(
            f"合计 {yuan(total)}" if lower is None else f"合计 最低 {yuan(lower)}，最高 {yuan(total)}"
        )
    if funding is not None and precision != UNKNOWN:
        limit, received, text = funding
        if limit is None or received is None:
            precision = AT_MOST if precision == EXACT else precision
            reasons.append(f"财政资助总额上限无法计算（{text}）")
        else:
            room = max(ZERO, rounding(limit - received))
            if room < total:
                result.explanation.append(
                    f"各级财政资助总额不超过 {yuan(limit)}：已获 {yuan(received)}，"
                    f"本项最多 {yuan(room)}（上限起作用）"
                )
                total = room
                lower = None if lower is None else min(lower, room)
            else:
                result.explanation.append(
                    f"各级财政资助总额不超过 {yuan(limit)}：已获 {yuan(received)}，未超限"
                )
    if instalments and precision != UNKNOWN:
        if lower is not None:
            lower = _paid(lower, instalments, no_clawback, rounding)
        total, decided = _instalments(result, total, instalments, no_clawback, rounding)
        undecided = undecided or not decided
    result.amount = None if precision == UNKNOWN or undecided else rounding(total)
    if undecided or precision == UNKNOWN:
        result.status = UNDETERMINED
        result.reasons.extend(reasons)
        if precision == UNKNOWN:
            result.amount = None
    else:
        result.status = CEILING if precision == AT_MOST else DETERMINED
        result.reasons.extend(reasons)
        if lower is not None and result.status == CEILING:
            result.floor = rounding(lower)
    return result


# A shared funding limit as the evaluators hand it over: the measure stating it, the measures whose
# awards it counts (in the order written), the limit and the funding already received (None: not
# known), and the limit as written.
SharedLimit = tuple[str, Sequence[str], Decimal | None, Decimal | None, str]


def _best_together(
    names: Sequence[str], amounts: Mapping[str, Decimal | None], adds: set[frozenset[str]]
) -> set[str]:
    """The measures of `names` with the largest sum whose every pair a rule adds up (the first in
    name order among equal sums): a policy-wide 就高 pays them and no other."""
    best: tuple[Decimal, list[str]] = (Decimal(-1), [])

    def grow(chosen: list[str], rest: list[str]) -> None:
        nonlocal best
        value = sum((amounts[n] or ZERO for n in chosen), ZERO)
        if value > best[0]:
            best = (value, list(chosen))
        for i, n in enumerate(rest):
            if all(frozenset((n, c)) in adds for c in chosen):
                grow([*chosen, n], rest[i + 1 :])

    grow([], list(names))
    return set(best[1])


def share_funding(
    measures: Mapping[str, MeasureResult], limits: Sequence[SharedLimit], rounding: Rounding
) -> None:
    """Shared funding limits (`funding_limit … counting other_measure`, docs/semantics.md), applied in
    the plan's order (`Plan.shared_limits`) to the measures' results: the room the limit leaves after
    the funding already received goes to the measures counted, in the order written, then to the
    measure stating the limit; each is cut to what is left.  A ceiling counts at its most (its room is
    reserved); a member whose amount is not known leaves every later one a ceiling.  The limit is the
    condition of the measure stating it: it binds nothing when that measure is ineligible, and a cut
    it would make is undetermined while that measure is."""
    for holder, counted, limit, received, text in limits:
        stating = measures.get(holder)
        if stating is None or stating.status == INELIGIBLE:
            continue
        members = [
            measures[n] for n in (*counted, holder) if n in measures and measures[n].status != INELIGIBLE
        ]
        if limit is None or received is None:
            for m in members:
                if m is not stating and m.status == DETERMINED:
                    m.status = CEILING  # the limit may bind but cannot be worked out
                    m.reasons.append(f"财政资助总额上限无法计算（{text}）")
            continue
        room = max(ZERO, rounding(limit - received))
        head = f"各级财政资助总额不超过 {yuan(limit)}（{text}，{stating.label}）"
        counted_so_far = [f"已获资助 {yuan(received)}"]
        unknown: list[str] = []  # labels of earlier members whose amount is not known
        left = room
        for m in members:
            if m.amount is None:
                unknown.append(m.label)
                counted_so_far.append(f"{m.label} 未定")
                continue
            amount = m.amount
            if amount > left:
                if stating.status == UNDETERMINED and m is not stating:
                    m.status, m.amount, m.floor = UNDETERMINED, None, None
                    m.reasons.append(
                        f"尚无法判断：{stating.label} 是否适用（其财政资助总额上限可能削减本项）"
                    )
                    counted_so_far.append(f"{m.label} 未定")
                    continue
                m.amount = left
                m.floor = None if m.floor is None else min(m.floor, left)
                m.explanation.append(
                    f"{head}：已计 {'、'.join(counted_so_far)}，本项至多 {yuan(left)}（上限起作用）"
                )
                if unknown and m.status == DETERMINED:
                    m.status = CEILING
                    m.reasons.append(f"{'、'.join(unknown)} 金额未定，财政资助总额上限下本项为上限")
            else:
                if unknown and amount > ZERO and m.status == DETERMINED:
                    m.status = CEILING
                    m.reasons.append(f"{'、'.join(unknown)} 金额未定，财政资助总额上限下本项为上限")
                if m is stating:
                    m.explanation.append(
                        f"{head}：已计 {'、'.join(counted_so_far)}，本项 {yuan(amount)} 未超限"
                    )
            left -= m.amount
            counted_so_far.append(f"{m.label} {yuan(m.amount)}")


def share_amounts(amounts: Amounts, limits: Sequence[SharedLimit], rounding: Rounding) -> Amounts:
    """share_funding on (status, amount) per measure, as the fast path has them."""
    results = {
        name: MeasureResult(name, name, None, status, amount) for name, (status, amount) in amounts.items()
    }
    share_funding(results, limits, rounding)
    return {name: (r.status, r.amount) for name, r in results.items()}


def _paid(
    total: Decimal,
    stages: list[tuple[str, str, Decimal | None, bool | None]],
    no_clawback: bool,
    rounding: Rounding,
) -> Decimal:
    """What staged payment pays of `total`, as _instalments pays it (without its explanation)."""
    paid = ZERO
    for _, _, share, holds in stages:
        if not holds:
            return paid if no_clawback or holds is None else ZERO
        paid += total - paid if share is None else rounding(total * share)
    return paid


def _instalments(
    result: MeasureResult,
    total: Decimal,
    stages: list[tuple[str, str, Decimal | None, bool | None]],
    no_clawback: bool,
    rounding: Rounding,
) -> tuple[Decimal, bool]:
    """Staged payment: what is paid in the end, and whether every stage could be decided."""
    paid = ZERO
    for name, label, share, holds in stages:
        result.conditions[f"{result.measure}.{name}"] = holds
        if holds is None:
            result.reasons.append(f"无法判断分期 {label} 的条件")
            return paid, False
        if not holds:
            if no_clawback:
                result.explanation.append(
                    f"{label}：条件未满足，失去该期及以后各期兑付资格；已拨付 {yuan(paid)} 无需追回"
                )
                return paid, True
            result.explanation.append(f"{label}：条件未满足，失去兑付资格，已拨付金额追回")
            return ZERO, True
        amount = total - paid if share is None else rounding(total * share)
        paid += amount
        result.explanation.append(
            f"{label}：兑付 {yuan(amount)}" + ("（余额）" if share is None else f"（{show(share * 100)}%）")
        )
    return paid, True


def contradiction(quoted: str, label: str | None) -> str:
    """The input problem of facts that contradict the policy's assumption `assume quoted "label"`."""
    stated = f"「{label}」" if label else ""
    return f"the facts contradict the policy's assumption {stated}`{quoted}` (与政策的假设{stated}不符)"


def contradiction_problem(quoted: str, label: str | None) -> Problem:
    """contradiction as a Problem."""
    stated = f"「{label}」" if label else ""
    return problem("input.contradiction", contradiction(quoted, label), quoted=quoted, stated=stated)


def ineligible(result: MeasureResult, reasons: Iterable[str]) -> MeasureResult:
    result.status = INELIGIBLE
    result.amount = None
    result.reasons.extend(reasons)
    return result


# ------------------------------------------------------------------------------ the total


_NO_RULES: frozenset[int] = frozenset()


# A combination with awards under other documents as the evaluators hand it over: the mode (highest,
# exclusive), the measures it covers, what the applicant received under other documents for the same
# project (None: not given), the fact's label and its name, and the labels of the measures covered.
OtherAward = tuple[str, Sequence[str], Decimal | None, str, str, Sequence[str]]


def other_documents(
    total: MeasureResult,
    other: OtherAward,
    amounts: Mapping[str, Decimal | None],
    cap_cuts: Sequence[tuple[Sequence[str], Decimal]],
    precision: str,
) -> tuple[Decimal, str]:
    """What a combination with awards under other documents takes off the total, and the total's
    precision after it.  This policy's own award for the measures covered is their amounts after the
    combination rules and the total caps over them alone (the checker refuses a cap running across);
    under 就高 the applicant ends with the higher of it and the award received elsewhere, so this
    policy pays max(0, own − received); under 互斥 it pays nothing for them when received > 0.  An
    award received that is not given leaves the total a ceiling and the fact needed."""
    mode, names, received, label, fact, labels = other
    group = [n for n in names if n in amounts]
    if not group:
        return ZERO, precision
    covered = "、".join(lbl for n, lbl in zip(names, labels, strict=True) if n in amounts)
    own = sum((amounts[n] or ZERO for n in group), ZERO)
    inside = set(group)
    own -= sum((c for capped, c in cap_cuts if {n for n in capped if n in amounts} <= inside), ZERO)
    own = max(own, ZERO)
    words = "就高不重复" if mode == "highest" else "不可同时享受"
    if received is None:
        if own > ZERO or any(amounts[n] is None for n in group):
            total.needed.append(fact)
            total.reasons.append(
                f"未提供{label}（{fact}）：与其他政策同类奖励{words}，本政策{covered}可能减少，合计为上限"
            )
            return ZERO, combine_precision(precision, AT_MOST)
        return ZERO, precision
    if mode == "highest":
        taken = min(own, max(received, ZERO))
        total.explanation.append(
            f"{label} {yuan(received)}，与其他政策同类奖励按就高不重复，"
            f"本政策{covered}计 {yuan(own)}，补足 {yuan(own - taken)}"
        )
        return taken, precision
    if received > ZERO:
        total.explanation.append(
            f"{label} {yuan(received)}，与本政策{covered}不可同时享受，本政策不予支付（原计 {yuan(own)}）"
        )
        return own, precision
    return ZERO, precision


# ------------------------------------------------------------------------------ pots
# A pot, as the back ends hand it to the runtime: (name, label, amount or None when it cannot be
# worked out, the amount as written, the measures drawing on it, the allocation rule or None).
PotRule = tuple[str, str, Decimal | None, str, Sequence[str], str | None]
POT_RULE_WORDS = {
    "proportional": "按申请金额比例分配",
    "ranked": "按排名先后分配",
    "first_come": "按申请先后分配",
    "unset": "原文未规定分配办法",
    None: "原文未规定分配办法",
}


def pot_head(label: str, amount: Decimal | None, text: str, rule: str | None) -> str:
    """`人才培养补贴资金池 100万元，原文未规定分配办法`: the pot as an explanation names it."""
    figure = yuan(amount) if amount is not None else f"{text}（无法计算）"
    return f"{label}资金池 {figure}，{POT_RULE_WORDS.get(rule, POT_RULE_WORDS[None])}"


def pot_ceiling(status: str, amount: Decimal | None, pot: Decimal | None) -> tuple[str, Decimal | None]:
    """What one applicant alone is promised from a pot: its own figure as a ceiling, at most the pot
    (its share depends on the other applicants); an ineligible or undetermined result is kept."""
    if status in (INELIGIBLE, UNDETERMINED) or amount is None:
        return status, amount
    # the pot written at least at the amount's places (a pot of 100万 is Decimal('1E+6')), exactly
    return CEILING, amount if pot is None else min(amount, max(pot, ZERO) + amount * ZERO)


def apply_pots(measures: Mapping[str, MeasureResult], pots: Sequence[PotRule], explain: bool = True) -> None:
    """Turn the result of every measure that draws on a pot into what one applicant alone is promised
    (pot_ceiling), keeping its own figure as the `claim` a batch shares the pot by."""
    for name, label, amount, text, names, rule in pots:
        for measure in names:
            result = measures.get(measure)
            if result is None:
                continue
            claim = (result.status, result.amount)
            status, value = pot_ceiling(result.status, result.amount, amount)
            result.pot, result.claim = name, claim
            if (status, value) == claim:
                continue
            result.status, result.amount = status, value
            result.floor = None  # the pot may be spent before this applicant's turn
            if explain:
                result.explanation.append(
                    f"{pot_head(label, amount, text, rule)}；本申请人最多 {yuan(value)}"
                    "（实际份额取决于同期全部申请人）"
                )


def pot_amounts(amounts: Amounts, pots: Sequence[PotRule]) -> Amounts:
    """apply_pots on (status, amount) per measure, for the fast path."""
    if not pots:
        return amounts
    out = dict(amounts)
    for _, _, amount, _, names, _ in pots:
        for measure in names:
            if measure in out:
                out[measure] = pot_ceiling(*out[measure], amount)
    return out


def pot_caps(pots: Sequence[PotRule]) -> list[tuple[Decimal | None, list[str]]]:
    """A pot over several measures bounds one applicant's awards from them together: as total caps."""
    return [(amount, list(names)) for _, _, amount, _, names, _ in pots if len(names) > 1]


# A claim on a pot in a batch: (row, measure, status, amount, rank); the rank orders `ranked` pots.
Claim = tuple[int, str, str, Decimal | None, Decimal | None]


def share_pot(
    total: Decimal, claims: Sequence[Claim], rule: str | None, quantum: Decimal, head: str
) -> dict[tuple[int, str], tuple[str, Decimal | None, str]]:
    """How a pot of `total` is shared among the eligible `claims` of one batch: (row, measure) ->
    (status, amount, reason).  Claims that fit in the pot together are paid in full.  Otherwise:
    proportional: each claim times total / sum, rounded down to `quantum` (the policy's rounding
    unit), the units left over given one each to the largest remainders (ties: the earlier row, then
    the measure's order); ranked (by rank, highest first; ties and unknown ranks: the earlier row) and
    first_come (the batch's order): each in turn paid in full while the pot lasts, the one it runs out
    on the rest, the others nothing; unset or not said: every share undetermined, at most the pot.
    An undetermined claim leaves every share undetermined (the sum is not known)."""
    known = [c for c in claims if c[3] is not None]
    summed = sum((c[3] or ZERO for c in known), ZERO)
    out: dict[tuple[int, str], tuple[str, Decimal | None, str]] = {}
    if len(known) == len(claims) and summed <= total:
        for row, measure, status, amount, _ in claims:
            out[row, measure] = (status, amount, f"{head}：同期申请合计 {yuan(summed)}，足额支付")
        return out
    if len(known) < len(claims) or rule not in ("proportional", "ranked", "first_come"):
        why = "部分申请金额未定" if len(known) < len(claims) else f"同期申请合计 {yuan(summed)} 超过资金池"
        for row, measure, _, amount, _ in claims:
            # at least at the places of the policy's rounding (a pot of 100万 is Decimal('1E+6')), exactly
            ceiling = total + quantum * ZERO if amount is None else min(amount, total + amount * ZERO)
            out[row, measure] = (UNDETERMINED, ceiling, f"{head}：{why}，份额未定，最多 {yuan(ceiling)}")
        return out
    if rule == "proportional":
        exact = [(c, (c[3] or ZERO) * total / summed) for c in claims]
        shares = [(c, (e / quantum).to_integral_value(rounding="ROUND_FLOOR") * quantum, e) for c, e in exact]
        left = int(
            ((total - sum((s for _, s, _ in shares), ZERO)) / quantum).to_integral_value(
                rounding="ROUND_FLOOR"
            )
        )
        order = sorted(range(len(shares)), key=lambda i: (-(shares[i][2] - shares[i][1]), i))
        extra = set(order[:left])
        for i, (c, share, _) in enumerate(shares):
            row, measure, status, amount, _ = c
            paid = min(share + quantum, amount or ZERO) if i in extra else share
            out[row, measure] = (
                status,
                paid,
                f"{head}：同期申请合计 {yuan(summed)}，按比例 {yuan(amount)} × {yuan(total)} / {yuan(summed)}"
                f" = {yuan(paid)}",
            )
        return out
    if rule == "ranked":
        ordered = sorted(
            enumerate(claims),
            key=lambda ic: (-(ic[1][4] if ic[1][4] is not None else Decimal("-Infinity")), ic[0]),
        )
    else:
        ordered = list(enumerate(claims))
    room = total
    for place, (_, c) in enumerate(ordered, 1):
        row, measure, status, amount, _ = c
        paid = min(amount or ZERO, room)
        room -= paid
        if paid == ZERO:
            out[row, measure] = (INELIGIBLE, None, f"{head}：第 {place} 位，资金池已分配完")
        else:
            note = "" if paid == amount else f"（资金池余额，申请 {yuan(amount)}）"
            out[row, measure] = (status, paid, f"{head}：第 {place} 位，获 {yuan(paid)}{note}")
    return out


# the note on a total whose measures the policy never says may add up (then the pairs, `a+b`)
UNDECLARED_PAIRS = "政策未说明以下措施能否叠加，合计为上限："


def combine_total(
    measures: Mapping[str, tuple[str, Decimal | None]],
    combines: Sequence[tuple[str, Sequence[str]]],
    total_caps: Sequence[tuple[Decimal | None, Sequence[str]]],
    rounding: Rounding,
    *,
    floors: Mapping[str, Decimal | None] | None = None,
    others: Sequence[OtherAward] = (),
    labels: Mapping[str, str] | None = None,
) -> MeasureResult:
    """The applicant's total under the policy's combination rules, from (status, amount) per measure
    (its notes name each measure by its label in `labels`).
    With the measures' `floors`, a total that is a ceiling has a floor when some measure states one
    and every measure paying adds to the others (no 就高/互斥 choice among them, every pair declared):
    the sum of the floors and the determined amounts, under the same total caps.  `others` are the
    combinations with awards under other documents, applied last (other_documents)."""
    total = MeasureResult("total", "合计", None, DETERMINED, ZERO, (), [], [], [], [], {}, None)
    said = labels or {}

    def named(names: Iterable[str]) -> str:
        return "、".join(said.get(n, n) for n in names)

    lows: dict[str, Decimal] | None = None
    cut = ZERO  # what the total caps take off the floor
    if floors is not None and any(floors.get(n) is not None for n in measures):
        lows = {
            n: floors.get(n) or (amount if status == DETERMINED and amount is not None else ZERO)
            for n, (status, amount) in measures.items()
            if status != INELIGIBLE
        }
    amounts: dict[str, Decimal | None] = {}
    statuses = set()
    for name, (status, amount) in measures.items():
        if status != INELIGIBLE:
            amounts[name] = amount
            statuses.add(status)
    paying = amounts.keys()
    precision = UNKNOWN if UNDETERMINED in statuses else AT_MOST if CEILING in statuses else EXACT
    rules: dict[str, set[int]] = {}  # measure -> the combination rules naming it
    for index, (scoped, names) in enumerate(combines):
        mode, _, scope = scoped.partition("/")
        for name in names:
            rules.setdefault(name, set()).add(index)
        group = [n for n in names if n in paying]
        if len(group) < 2:
            continue
        known = [n for n in group if amounts[n] is not None]
        if scope == "all" and mode != "added" and len(known) == len(group):
            # policy-wide 就高/互斥: the rules naming measures override it, so the measures they add
            # up are paid together; the best set of measures that may all be added wins
            lows = None
            adds = {
                frozenset((a, b))
                for m, names_ in combines
                if m == "added"
                for a in names_
                for b in names_
                if a != b
            }
            together = _best_together(sorted(group), amounts, adds)
            for n in group:
                if n not in together:
                    amounts[n] = ZERO
            chosen = "、".join(n for n in sorted(group) if n in together)
            if mode == "highest":
                total.explanation.append(f"就高不重复（全部措施）：只取 {chosen}")
            else:
                precision = combine_precision(precision, AT_MOST)
                total.explanation.append(f"互斥（全部措施）：只能取其一，合计按最高者 {chosen} 计为上限")
            continue
        if mode == "highest" or mode == "exclusive":
            lows = None  # the floor of a choice among ranges is not kept
            if len(known) < len(group):
                precision = UNKNOWN
                total.reasons.append(
                    f"{'就高不重复' if mode == 'highest' else '互斥'}：部分金额未定，无法比较 " + named(group)
                )
                continue
            best = max(group, key=lambda n: amounts[n] or ZERO)
            for n in group:
                if n != best:
                    amounts[n] = ZERO
            if mode == "highest":
                total.explanation.append(f"就高不重复：{named(group)} 中只取 {named([best])}")
            else:
                precision = combine_precision(precision, AT_MOST)
                total.explanation.append(
                    f"互斥：{named(group)} 只能取其一，合计按最高者 {named([best])} 计为上限"
                )
    names = sorted(paying)
    undeclared = [
        (a, b)
        for i, a in enumerate(names)
        for b in names[i + 1 :]
        if not rules.get(a, _NO_RULES) & rules.get(b, _NO_RULES)
    ]
    if undeclared:
        lows = None
        precision = combine_precision(precision, AT_MOST)
        pairs = "、".join(f"{named([a])}+{named([b])}" for a, b in undeclared)
        total.reasons.append(UNDECLARED_PAIRS + pairs)
    value = ZERO
    for n in names:
        if amounts[n] is None:
            precision = UNKNOWN
        else:
            value += amounts[n] or ZERO
    cap_cuts: list[tuple[Sequence[str], Decimal]] = []  # what each total cap took off
    for cap, group_names in total_caps:
        if cap is None:
            # a cap that cannot be worked out may still bind: the total is at most the sum
            if any(n in paying for n in group_names):
                precision = combine_precision(precision, AT_MOST)
                total.reasons.append(f"累计封顶无法计算，合计为上限：{named(group_names)}")
            continue
        capped = sum(((amounts.get(n) or ZERO) for n in group_names if n in paying), ZERO)
        if lows is not None:
            least = sum((lows[n] for n in group_names if n in lows), ZERO)
            cut += max(least - cap, ZERO)
        if capped > cap:
            value -= capped - cap
            cap_cuts.append((group_names, capped - cap))
            total.explanation.append(f"累计封顶 {yuan(cap)}：{named(group_names)} 合计 {yuan(capped)} 超限")
    if not paying:
        total.status = INELIGIBLE
        total.amount = None
        total.reasons.append("没有可获得的扶持")
        return total
    for other in others:
        taken, precision = other_documents(total, other, amounts, cap_cuts, precision)
        if taken:
            value -= taken
            lows = None
    total.amount = None if precision == UNKNOWN else rounding(value)
    total.status = {EXACT: DETERMINED, AT_MOST: CEILING, UNKNOWN: UNDETERMINED}[precision]
    if lows is not None and total.status == CEILING:
        total.floor = min(rounding(sum(lows.values(), ZERO) - cut), total.amount or ZERO)
        total.explanation.append(f"合计最低 {yuan(total.floor)}（各措施的保底与确定金额之和）")
    return total
