"""Every diagnostic code the tool emits, as a named constant: the one registry.

A pass reports `sink.report(codes.E101, ...)`; a misspelt code is an unknown name to mypy, not a
string that fails at run time.  Each code has a page docs/errors/<id>.md with cause, example and
fix (tests/test_diagnostics.py checks the pages over `CODES`).  The constant's name is its id.
"""

from __future__ import annotations

from policydsl.diagnostics import Code, Severity

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

# syntax
E001 = Code("E001", ERROR, "unexpected token")
E002 = Code("E002", ERROR, "unexpected end of file")
E003 = Code("E003", ERROR, "unexpected character")
E004 = Code("E004", ERROR, "unreadable file")
E005 = Code("E005", ERROR, "input too large or too deeply nested")
E006 = Code("E006", ERROR, "invalid literal")

# names
E101 = Code("E101", ERROR, "unknown name")
E102 = Code("E102", ERROR, "duplicate definition")
E103 = Code("E103", ERROR, "unknown type")
E104 = Code("E104", ERROR, "unknown enum value")
E105 = Code("E105", ERROR, "unknown measure or clause")
E106 = Code("E106", ERROR, "unknown applicant kind")
E107 = Code("E107", ERROR, "unknown option")
E109 = Code("E109", ERROR, "exception involving a bonus")
E110 = Code("E110", ERROR, "applicant roles that cannot go together")
E120 = Code("E120", ERROR, "unknown example base")
E121 = Code("E121", ERROR, "examples extending each other in a circle")
W108 = Code("W108", WARNING, "missing policy header")

# types and units
E201 = Code("E201", ERROR, "incompatible operands")
E202 = Code("E202", ERROR, "incompatible comparison")
E203 = Code("E203", ERROR, "count times money without a per-unit amount")
E204 = Code("E204", ERROR, "wrong number of arguments")
E205 = Code("E205", ERROR, "condition is not true/false")
E206 = Code("E206", ERROR, "amount is not money")
E207 = Code("E207", ERROR, "mismatched count units")
E208 = Code("E208", ERROR, "invalid declaration")
E209 = Code("E209", ERROR, "division by zero")
E212 = Code("E212", ERROR, "malformed progressive brackets")
E213 = Code("E213", ERROR, "floor or offset on an unset amount")
E216 = Code("E216", ERROR, "malformed schedule by year")
E225 = Code("E225", ERROR, "funding limit counts its own measure or a circle of measures")
E235 = Code("E235", ERROR, "invalid combination with awards under other documents")
E236 = Code("E236", ERROR, "invalid fact recording a quota's selection")
W210 = Code("W210", WARNING, "percentage over 100%")
W211 = Code("W211", WARNING, "full-width character")

# the policy analyses (checks/analysis*.py)
P101 = Code("P101", WARNING, "dead clause")
P102 = Code("P102", WARNING, "clause always replaced by an exception")
P103 = Code("P103", WARNING, "measure can never pay")
P104 = Code("P104", ERROR, "no applicant can be eligible")
P201 = Code("P201", WARNING, "measures overlap, amounts can differ")
P202 = Code("P202", WARNING, "measures overlap, amounts always equal")
P203 = Code("P203", WARNING, "clauses overlap, amounts can differ")
P204 = Code("P204", WARNING, "clauses overlap, amounts always equal")
P205 = Code("P205", WARNING, "duplicated clause")
P206 = Code("P206", WARNING, "measures may combine, no combination declared")
P301 = Code("P301", WARNING, "ambiguous exceptions")
P302 = Code("P302", ERROR, "exception cycle")
P401 = Code("P401", WARNING, "tier table misses a value")
P402 = Code("P402", WARNING, "bands leave a hole")
P403 = Code("P403", WARNING, "bands overlap")
P404 = Code("P404", WARNING, "clauses leave a hole between their thresholds")
P405 = Code("P405", WARNING, "progressive brackets leave a gap")
P406 = Code("P406", WARNING, "progressive brackets overlap")
P409 = Code("P409", WARNING, "a schedule by year leaves a year out")
P501 = Code("P501", INFO, "mergeable clauses")
P502 = Code("P502", WARNING, "masked exception")
P601 = Code("P601", WARNING, "cap never binds")
P602 = Code("P602", WARNING, "cap dominated by another cap")
P603 = Code("P603", WARNING, "formula never below its cap")
P604 = Code("P604", WARNING, "one member can pass the group cap")
P605 = Code("P605", WARNING, "members can pass the group cap with no allocation rule")
P606 = Code("P606", WARNING, "quota times the largest award passes the budget")
P607 = Code("P607", WARNING, "cross-funding ceiling makes a cap unreachable")
P608 = Code("P608", WARNING, "floor above a cap")
P609 = Code("P609", INFO, "floor never binds")
P610 = Code("P610", WARNING, "expected recipients at the largest award pass the budget or pot")
P701 = Code("P701", INFO, "discretionary amount")
P702 = Code("P702", INFO, "parameter left unset")
P703 = Code("P703", INFO, "amount or tier left unset")
P704 = Code("P704", INFO, "selection beyond the quota undetermined")
P705 = Code("P705", INFO, "validity start left open")
P710 = Code("P710", INFO, "order of cutting under a shared funding limit")
P900 = Code("P900", WARNING, "could not be decided")
P901 = Code("P901", WARNING, "could not be checked")
P902 = Code("P902", WARNING, "stale acknowledgement")

# the SQL back end (`compile --target sql`, `eval --engine duckdb`)
S101 = Code("S101", ERROR, "construct the SQL back end does not translate")

# requests to the web service (`policydsl serve`); I101 is what `eval` reports as "the facts cannot be
# used" (exit 1), the same problems listed
I101 = Code("I101", ERROR, "facts cannot be used")
I102 = Code("I102", ERROR, "request is not valid JSON of the expected shape")
I103 = Code("I103", ERROR, "request too large")
I104 = Code("I104", ERROR, "unknown policy or page")
I105 = Code("I105", ERROR, "request took too long")

# the review site
R101 = Code("R101", WARNING, "source document not embedded")

# Every code by its id (the text printed in `error[E101]`, JSON and SARIF).
CODES: dict[str, Code] = {c.id: c for c in list(globals().values()) if isinstance(c, Code)}

# The analyses' codes, the ones an `acknowledge` line may name.
ANALYSIS_CODES = frozenset(code for code in CODES if code.startswith("P"))
