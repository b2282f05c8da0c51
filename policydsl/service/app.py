"""The service's routes: the JSON API over the served policies' compiled evaluators and the
questionnaire page.  `ROUTES` is the one table of the API: the router and the OpenAPI document are
both made from it.

Every request is bounded: its body (`MAX_BODY` bytes, `MAX_BATCH_BODY` for a batch, read no further
than the bound), a batch's rows (`MAX_ROWS`) and its time (`TIME_LIMIT` seconds for one decision,
`BATCH_TIME_LIMIT` for a batch).  A request's content is only ever parsed as JSON and checked as
facts: nothing from it is executed or written anywhere.  Errors are JSON
`{"error": {"code", "message", "problems"}}` with the codes of policydsl/codes.py (I101: what `eval`
reports as "the facts cannot be used", with the same problems), in the language of
`Accept-Language` (Chinese by default)."""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from importlib import resources
from types import ModuleType
from typing import Any

import anyio
import attrs
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from policydsl import codes
from policydsl.diagnostics import Code
from policydsl.evaluation import runtime as rt
from policydsl.evaluation.batch import PotShare, name_needed
from policydsl.evaluation.interpreter import Interpreter
from policydsl.messages import Lang, Message, msg
from policydsl.service.registry import Registry, Served
from policydsl.service.schema import facts_schema

_orjson: ModuleType | None
try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - the `serve-fast` extra is not installed
    _orjson = None

MAX_BODY = 1024 * 1024
MAX_BATCH_BODY = 8 * 1024 * 1024
MAX_ROWS = 10_000
TIME_LIMIT = 5.0
BATCH_TIME_LIMIT = 60.0
# how many evaluations run at once (threads); more requests wait for one of them
WORKERS = 8

_STATUS = {codes.I101: 422, codes.I102: 400, codes.I103: 413, codes.I104: 404, codes.I105: 503}


class RequestProblem(Exception):
    """A request the service refuses: its `code`, `message` and the `problems` it lists."""

    def __init__(self, code: Code, message: Message, problems: list[str] | None = None) -> None:
        super().__init__(code.id)
        self.code, self.message, self.problems = code, message, problems or []


def language(request: Request) -> Lang:
    """Chinese unless the client's `Accept-Language` puts English before Chinese."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(request.headers.get("accept-language", "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, i, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "zh"


def dump(value: Any) -> bytes:
    """Compact UTF-8 JSON: orjson's bytes when it is installed (the `serve-fast` extra; the same bytes,
    about ten times sooner), else the standard library's."""
    if _orjson is not None:
        try:
            data: bytes = _orjson.dumps(value)
            return data
        except TypeError:  # what orjson refuses (e.g. integers past 64 bits): the standard library
            pass
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_response(value: Any, status: int = 200) -> Response:
    return Response(dump(value), status, media_type="application/json")


def error_body(problem: RequestProblem, lang: Lang) -> dict[str, Any]:
    return {
        "error": {
            "code": problem.code.id,
            "message": problem.message.render(lang),
            "problems": problem.problems,
        }
    }


def error_response(problem: RequestProblem, lang: Lang) -> Response:
    return json_response(error_body(problem, lang), _STATUS[problem.code])


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused (I103) as soon as it passes `limit` bytes, before reading the rest."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise RequestProblem(codes.I103, msg("serve.too_large", limit=limit))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestProblem(codes.I103, msg("serve.too_large", limit=limit))
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8-sig"), parse_float=_no_float, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestProblem(codes.I102, msg("serve.bad_json", detail=str(exc))) from None
    except RecursionError:
        raise RequestProblem(codes.I102, msg("serve.bad_json", detail="nested too deeply")) from None


def _no_constant(word: str) -> Any:
    raise ValueError(f"{word} is not a number")


def _no_float(text: str) -> str:
    # a decimal figure is kept exactly as written (parse_facts reads text figures); never a float
    return text


def parse_date(value: Any) -> datetime.date | None:
    if value is None:
        return None
    try:
        return datetime.date.fromisoformat(value) if isinstance(value, str) else _bad_date(value)
    except ValueError:
        return _bad_date(value)


def _bad_date(value: Any) -> datetime.date:
    raise RequestProblem(codes.I102, msg("serve.bad_date", value=str(value)[:40]))


@attrs.frozen
class Ask:
    """One evaluation request: the `facts`, the evaluation `date` (None: today), `params`, and
    whether the decision comes with its explanation and conditions (`explain`; without them it is
    the evaluator's fast path, for callers that need only the amounts)."""

    facts: dict[str, Any]
    date: datetime.date | None
    params: dict[str, Any] | None
    explain: bool = True


def parse_ask(body: Any) -> Ask:
    if not isinstance(body, dict) or not isinstance(body.get("facts", {}), dict):
        raise RequestProblem(codes.I102, msg("serve.bad_shape"))
    params = body.get("params")
    if params is not None and not isinstance(params, dict):
        raise RequestProblem(codes.I102, msg("serve.bad_shape"))
    unknown = sorted(set(body) - {"facts", "date", "params", "explain"})
    if unknown:
        raise RequestProblem(
            codes.I102, msg("serve.bad_shape"), [f"`{k[:40]}`: not a field" for k in unknown]
        )
    explain = body.get("explain", True)
    if not isinstance(explain, bool):
        raise RequestProblem(codes.I102, msg("serve.bad_shape"), ["`explain`: true or false"])
    return Ask(body.get("facts", {}), parse_date(body.get("date")), params or None, explain)


def decide(served: Served, ask: Ask, partial: bool) -> rt.Decision:
    """The decision of the served policy's compiled evaluator; RequestProblem I101 for unusable
    facts or parameter values (every problem listed)."""
    evaluator = served.evaluator
    try:
        if ask.params is None:
            return evaluator.evaluate(ask.facts, ask.date, partial=partial, explain=ask.explain, strict=True)
        Interpreter(served.plan, params=ask.params)  # checks the values as `eval --params` does
        decision: rt.Decision = evaluator.module.evaluate(
            ask.facts, ask.date, partial=partial, explain=ask.explain, params=ask.params, strict=True
        )
        return decision
    except rt.InputError as exc:
        raise RequestProblem(codes.I101, msg("serve.facts_unusable"), exc.problems) from None


def decision_json(decision: rt.Decision) -> dict[str, Any]:
    """The decision as `eval --format json` gives it, with the articles it cites (`citations`)."""
    out = decision.to_dict()
    cites: list[str] = []
    for m in out["measures"]:
        for cite in [m["cite"], *(c.get("article") for c in m["conditions"])]:
            if cite and cite not in cites:
                cites.append(cite)
    out["citations"] = cites
    return out


def still_needed(served: Served, decision: rt.Decision) -> list[dict[str, Any]]:
    """The facts still needed, most useful first: a fact needed by more undecided measures (the
    total counted as one) comes first, ties in the order the policy declares its facts.  Each with
    what the questionnaire needs to ask it and the measures that wait for it."""
    waiting: dict[str, list[str]] = {}
    for result in [*decision.measures.values(), decision.total]:
        for shown in result.needed:
            fact = served.needed_names.get(shown)
            if fact is not None and result.measure not in waiting.setdefault(fact, []):
                waiting[fact].append(result.measure)
    order = {fact: i for i, fact in enumerate(served.plan.facts)}
    asked = served.questions
    ranked = sorted(waiting, key=lambda fact: (-len(waiting[fact]), order.get(fact, len(order))))
    return [{**asked[fact], "measures": waiting[fact]} for fact in ranked if fact in asked]


# ------------------------------------------------------------------------------ the endpoints


def make_app(registry: Registry) -> Starlette:
    limiter = anyio.CapacityLimiter(WORKERS)

    def policy(request: Request) -> Served:
        name = request.path_params["name"]
        served = registry.get(name)
        if served is None:
            names = tuple(registry.names) or ("-",)
            raise RequestProblem(codes.I104, msg("serve.unknown_policy", name=name[:80], names=names))
        return served

    async def bounded(work: Callable[[], Any]) -> Any:
        try:
            with anyio.fail_after(TIME_LIMIT):
                return await anyio.to_thread.run_sync(work, abandon_on_cancel=True, limiter=limiter)
        except TimeoutError:
            raise RequestProblem(codes.I105, msg("serve.too_slow", seconds=str(TIME_LIMIT))) from None

    async def list_policies(request: Request) -> Response:
        out = []
        for served in registry.all():
            plan = served.plan
            validity = plan.validity
            out.append(
                {
                    "name": served.name,
                    "title": plan.title,
                    "issuer": plan.header.issuer,
                    "docno": plan.header.docno,
                    "validity": {
                        "start": None if validity.start is None else validity.start.isoformat(),
                        "end": None if validity.end is None else validity.end.isoformat(),
                        "text": validity.text,
                    },
                    "measures": [{"name": m.name, "label": m.label, "cite": m.cite} for m in plan.measures],
                    "facts": {fact: spec.label for fact, spec in plan.facts.items()},
                    "reload_error": registry.reload_errors.get(served.name),
                }
            )
        return json_response({"policies": out})

    async def evaluate(request: Request) -> Response:
        served = policy(request)
        ask = parse_ask(parse_json(await read_body(request, MAX_BODY)))
        decision = await bounded(lambda: decision_json(decide(served, ask, partial=False)))
        return json_response(decision)

    async def partial(request: Request) -> Response:
        served = policy(request)
        ask = parse_ask(parse_json(await read_body(request, MAX_BODY)))

        def work() -> dict[str, Any]:
            decision = decide(served, ask, partial=True)
            needed = still_needed(served, decision)
            return {"decided": not needed, "needed": needed, "decision": decision_json(decision)}

        return json_response(await bounded(work))

    async def batch(request: Request) -> Response:
        served = policy(request)
        lang = language(request)
        date = parse_date(request.query_params.get("date"))
        lines = (await read_body(request, MAX_BATCH_BODY)).decode("utf-8-sig", "replace").splitlines()
        rows = [line for line in lines if line.strip()]
        if len(rows) > MAX_ROWS:
            raise RequestProblem(codes.I103, msg("serve.too_many_rows", limit=MAX_ROWS))
        # quotas, group caps and pots act across applicants: a row here is decided alone, and says
        # which limits it does not apply (`eval --batch` applies them)
        limits = [c.name if isinstance(c, PotShare) else c.measure for c in served.evaluator.constraints()]

        def stream() -> Iterator[bytes]:
            deadline = time.monotonic() + BATCH_TIME_LIMIT
            for number, line in enumerate(rows, 1):
                out: dict[str, Any] = {"row": number}
                try:
                    if time.monotonic() > deadline:
                        seconds = str(BATCH_TIME_LIMIT)
                        raise RequestProblem(codes.I105, msg("serve.too_slow", seconds=seconds))
                    facts = parse_json(line.encode("utf-8"))
                    if not isinstance(facts, dict):
                        raise RequestProblem(codes.I102, msg("serve.bad_shape"))
                    # a fact left out, null or blank is not known: the row decided as `eval --batch`
                    # decides it (as `eval --partial`), its reasons naming the facts still needed
                    decision = decide(served, Ask(facts, date, None), partial=True)
                    if decision.path != "fast":  # the fast path decides only rows with every fact given
                        name_needed(decision, lang)
                    out.update(decision_json(decision))
                    if limits:
                        out["limits_not_applied"] = limits
                except RequestProblem as problem:
                    out.update(error_body(problem, lang))
                    if problem.code is codes.I105:
                        yield dump(out) + b"\n"
                        return
                yield dump(out) + b"\n"

        return StreamingResponse(stream(), media_type="application/x-ndjson")

    async def schema(request: Request) -> Response:
        served = policy(request)
        return json_response(facts_schema(served.plan, served.name))

    async def openapi(request: Request) -> Response:
        return json_response(openapi_document())

    async def page(request: Request) -> Response:
        name = "index.html" if request.url.path == "/" else "app.js"
        media = "text/html; charset=utf-8" if name.endswith("html") else "text/javascript; charset=utf-8"
        body = resources.files(__package__).joinpath("static", name).read_bytes()
        return Response(body, media_type=media)

    handlers: dict[str, Callable[[Request], Awaitable[Response]]] = {
        "list_policies": list_policies,
        "evaluate": evaluate,
        "partial": partial,
        "batch": batch,
        "schema": schema,
        "openapi": openapi,
        "page": page,
    }

    def guarded(
        handler: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestProblem as problem:
                return error_response(problem, language(request))

        return run

    routes = [Route(r.path, guarded(handlers[r.handler]), methods=[r.method]) for r in ROUTES] + [
        Route(path, guarded(page), methods=["GET"]) for path in ("/", "/app.js")
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if status == 404:
            problem = RequestProblem(codes.I104, msg("serve.not_found", path=request.url.path[:200]))
            return error_response(problem, language(request))
        detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
        return json_response({"error": {"code": None, "message": detail, "problems": []}}, status)

    app = Starlette(routes=routes, exception_handlers={HTTPException: not_found})
    app.add_middleware(_Headers)
    return app


class _Headers:
    """Headers on every response: no sniffing of types, and the page may load only its own script."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, sending)


# ------------------------------------------------------------------------------ the API as data


@attrs.frozen
class ApiRoute:
    """One endpoint of the API: `method`, `path`, the `handler`'s name, a `summary`, the schema of
    its request body (None: none) and what it answers."""

    method: str
    path: str
    handler: str
    summary: str
    body: dict[str, Any] | None
    answer: str
    media: str = "application/json"


_ASK: dict[str, Any] = {
    "type": "object",
    "properties": {
        "facts": {"type": "object", "description": "fact name -> value; see /api/policies/{name}/schema"},
        "date": {"type": "string", "format": "date", "description": "evaluation date (default: today)"},
        "params": {"type": "object", "description": "parameter name -> value"},
        "explain": {
            "type": "boolean",
            "default": True,
            "description": "false: the amounts only (no explanation, conditions or citations), sooner",
        },
    },
    "required": ["facts"],
    "additionalProperties": False,
}

ROUTES = (
    ApiRoute("GET", "/api/policies", "list_policies", "The served policies", None,
             "name, title, issuer, validity, measures and fact labels of each"),
    ApiRoute("POST", "/api/policies/{name}/evaluate", "evaluate", "Decide one applicant", _ASK,
             "the decision: measures, total, explanation, conditions, citations"),
    ApiRoute("POST", "/api/policies/{name}/partial", "partial",
             "Decide what the facts given decide; list the facts still needed, most useful first", _ASK,
             "decided, needed (facts with what to ask), decision"),
    ApiRoute("POST", "/api/policies/{name}/batch", "batch",
             "Decide many applicants: JSON Lines in (one facts object a line), JSON Lines out, streamed",
             {"type": "string", "description": "JSON Lines, one facts object a line"},
             "one line per row: {row, ...decision} or {row, error}", "application/x-ndjson"),
    ApiRoute("GET", "/api/policies/{name}/schema", "schema", "The JSON Schema of the policy's facts", None,
             "a JSON Schema (2020-12)"),
    ApiRoute("GET", "/openapi.json", "openapi", "This document", None, "OpenAPI 3.1"),
)  # fmt: skip


def openapi_document() -> dict[str, Any]:
    error = {
        "description": "an error: I101 facts (422), I102 JSON or shape (400), I103 size (413), "
        "I104 unknown policy (404), I105 time (503)",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    paths: dict[str, dict[str, Any]] = {}
    for r in ROUTES:
        op: dict[str, Any] = {
            "operationId": r.handler,
            "summary": r.summary,
            "responses": {"200": {"description": r.answer, "content": {r.media: {}}}, "default": error},
        }
        if "{name}" in r.path:
            op["parameters"] = [
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
            ]
        if r.handler == "batch":
            op["parameters"].append(
                {
                    "name": "date",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "format": "date"},
                }
            )
        if r.body is not None:
            op["requestBody"] = {"required": True, "content": {r.media: {"schema": r.body}}}
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "policydsl serve", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "problems": {"type": "array", "items": {"type": "string"}},
                            },
                        }
                    },
                }
            }
        },
    }
