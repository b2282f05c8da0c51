"""`policydsl serve` through HTTP on a real server on a loopback port: every endpoint, every
documented error, the batch streamed, a reload, and the questionnaire in headless chromium."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner

from policydsl.commands.cli import main
from policydsl.service import app as service
from policydsl.service.app import make_app
from policydsl.service.registry import Registry
from tests.browser import BROWSER_ARGS, browser_api, chromium
from tests.conftest import POLICIES, ROOT

JIANGMEN = POLICIES / "jiangmen_special_fund.policy"
BAOAN = POLICIES / "baoan_industrial_internet.policy"
JIANGMEN_FACTS: dict[str, Any] = json.loads(
    (POLICIES / "samples" / "jiangmen_special_fund.json").read_text(encoding="utf-8")
)
IN_FORCE = "2023-01-01"  # inside the Jiangmen policy's validity (2021-05-16 … 2024-05-15)


class Server:
    """A uvicorn server on a free loopback port, in a thread, serving `registry`."""

    def __init__(self, registry: Registry) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(make_app(registry), log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()

    def call(
        self, path: str, body: Any = None, raw: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        data = raw if raw is not None else None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(
            self.base + path, data=data, method="GET" if data is None else "POST", headers=headers or {}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, dict(answer.headers), answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def json(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        status, _, data = self.call(path, body, **kw)
        return status, json.loads(data)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with Server(Registry([JIANGMEN, BAOAN])) as running:
        yield running


def cli_json(*args: str) -> Any:
    result = CliRunner().invoke(main, ["eval", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def facts_file(tmp_path: Path, facts: dict[str, Any]) -> str:
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(facts), encoding="utf-8")
    return str(path)


# ------------------------------------------------------------------------------ the endpoints


def test_the_policies_are_listed_with_their_header(server: Server) -> None:
    status, answer = server.json("/api/policies")
    assert status == 200
    jiangmen, baoan = answer["policies"]
    assert [jiangmen["name"], baoan["name"]] == ["jiangmen_special_fund", "baoan_industrial_internet"]
    assert jiangmen["title"] == "江门市工业互联网专项资金管理实施细则"
    assert jiangmen["issuer"] == "江门市工业和信息化局"
    assert jiangmen["validity"] == {
        "start": "2021-05-16",
        "end": "2024-05-15",
        "text": jiangmen["validity"]["text"],
    }
    assert {"name": "cluster_pilot", "label": "产业集群试点", "cite": "第八条(三)"} in jiangmen["measures"]
    assert jiangmen["facts"]["project"] == "申报项目类型"


def test_evaluate_gives_what_eval_gives_with_the_citations(server: Server, tmp_path: Path) -> None:
    status, answer = server.json(
        "/api/policies/jiangmen_special_fund/evaluate", {"facts": JIANGMEN_FACTS, "date": IN_FORCE}
    )
    assert status == 200
    expected = cli_json(str(JIANGMEN), "--facts", facts_file(tmp_path, JIANGMEN_FACTS), "--date", IN_FORCE)
    citations = answer.pop("citations")
    assert answer == expected
    assert Decimal(answer["total"]["amount"]) == Decimal("464000")
    assert "第八条(三)" in citations and "第九条(一)" in citations
    pilot = next(m for m in answer["measures"] if m["measure"] == "cluster_pilot")
    assert pilot["explanation"] and pilot["conditions"]


@pytest.mark.parametrize("policy", [JIANGMEN, BAOAN])
def test_without_the_explanation_the_amounts_are_the_same(server: Server, policy: Path) -> None:
    """`"explain": false` (the evaluator's fast path) decides every measure as the explained
    decision does; only the explanation and the conditions are left out."""
    facts = json.loads((POLICIES / "samples" / f"{policy.stem}.json").read_text(encoding="utf-8"))
    path = f"/api/policies/{policy.stem}/evaluate"
    date = IN_FORCE if policy == JIANGMEN else "2024-06-01"
    _, full = server.json(path, {"facts": facts, "date": date})
    status, bare = server.json(path, {"facts": facts, "date": date, "explain": False})
    assert status == 200
    assert bare["total"] == full["total"]

    def amounts(decision: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [(m["measure"], m["status"], m["amount"], m["clauses"]) for m in decision["measures"]]

    assert amounts(bare) == amounts(full)
    assert any(m["explanation"] for m in full["measures"])
    assert not any(m["conditions"] for m in bare["measures"])
    assert len(bare["measures"]) == len(full["measures"])


def test_the_answer_is_the_standard_librarys_json() -> None:
    """The service's JSON (orjson when installed) is byte for byte what `json.dumps` gives, on
    every bundled policy's explained decision and on the awkward strings and numbers."""
    for policy in sorted(POLICIES.glob("*.policy")):
        served = Registry([policy]).get(policy.stem)
        assert served is not None
        facts = json.loads((POLICIES / "samples" / f"{policy.stem}.json").read_text(encoding="utf-8"))
        decision = served.evaluator.evaluate(facts, None, partial=True, explain=True)
        value = service.decision_json(decision)
        assert service.dump(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    awkward = {"s": '\x00\x1f\x7f\t\n"\\/\u2028\u2029é中😀', "n": [0, -1, 2**63, 2**80], "b": [True, None]}
    assert service.dump(awkward) == json.dumps(awkward, ensure_ascii=False, separators=(",", ":")).encode()


def test_serve_with_worker_processes(tmp_path: Path) -> None:
    """`serve --workers 2`: the processes share the port and each answers from the policy."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "policydsl",
        "serve",
        str(JIANGMEN),
        "--port",
        str(port),
        "--workers",
        "2",
    ]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as process:
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                try:
                    body = json.dumps({"facts": JIANGMEN_FACTS, "date": IN_FORCE, "explain": False}).encode()
                    request = urllib.request.Request(
                        f"http://127.0.0.1:{port}/api/policies/jiangmen_special_fund/evaluate", data=body
                    )
                    with urllib.request.urlopen(request, timeout=10) as answer:
                        assert Decimal(json.loads(answer.read())["total"]["amount"]) == Decimal("464000")
                    break
                except (urllib.error.URLError, ConnectionError):
                    assert time.monotonic() < deadline, "the workers did not start"
                    time.sleep(0.2)
        finally:
            process.terminate()
            process.wait(20)


def test_parameters_are_checked_and_used(server: Server) -> None:
    status, answer = server.json(
        "/api/policies/baoan_industrial_internet/evaluate",
        {"facts": {}, "params": {"no_such_parameter": 1}},
    )
    assert status == 422 and answer["error"]["code"] == "I101"
    assert answer["error"]["problems"]


def test_partial_lists_the_needed_facts_most_useful_first(server: Server, tmp_path: Path) -> None:
    status, answer = server.json(
        "/api/policies/jiangmen_special_fund/partial", {"facts": {}, "date": IN_FORCE}
    )
    assert status == 200 and answer["decided"] is False
    needed = answer["needed"]
    names = [q["name"] for q in needed]
    # every measure waits for the eligibility facts and the project type; only `cloud` for `sme`
    assert len(needed[0]["measures"]) == 5 and "project" in names[:8]
    assert names.index("project") < names.index("sme") and needed[names.index("sme")]["measures"] == ["cloud"]
    counts = [len(q["measures"]) for q in needed]
    assert counts == sorted(counts, reverse=True)
    project = needed[names.index("project")]
    assert project["kind"] == "enum" and {"value": "cluster", "label": "产业集群试点"} in project["members"]
    # the partial decision is the one `eval --partial` gives
    given = {"project": "cluster", "registered_in_jiangmen": True}
    status, answer = server.json(
        "/api/policies/jiangmen_special_fund/partial", {"facts": given, "date": IN_FORCE}
    )
    expected = cli_json(
        str(JIANGMEN), "--facts", facts_file(tmp_path, given), "--date", IN_FORCE, "--partial"
    )
    answer["decision"].pop("citations")
    assert answer["decision"] == expected
    names = [q["name"] for q in answer["needed"]]
    assert "sme" not in names and "trainees" not in names and "in_5n_cluster" in names
    status, answer = server.json(
        "/api/policies/jiangmen_special_fund/partial", {"facts": JIANGMEN_FACTS, "date": IN_FORCE}
    )
    assert answer["decided"] is True and answer["needed"] == []


def test_the_batch_is_streamed_a_line_per_row(server: Server) -> None:
    rows = [JIANGMEN_FACTS, {"project": "nothing"}, [1], {**JIANGMEN_FACTS, "project_investment": 100000}]
    body = "\n".join(json.dumps(r) for r in rows).encode("utf-8") + b"\n{oops\n"
    status, headers, data = server.call(
        f"/api/policies/jiangmen_special_fund/batch?date={IN_FORCE}", raw=body
    )
    assert status == 200 and headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in data.decode("utf-8").splitlines()]
    assert [line["row"] for line in lines] == [1, 2, 3, 4, 5]
    assert lines[0]["total"]["amount"] == "464000.00"
    assert lines[3]["total"]["amount"] == "80000.00"
    assert [line.get("error", {}).get("code") for line in lines] == [None, "I101", "I102", None, "I102"]
    # the group cap acts across applicants: each row says it is not applied here
    assert lines[0]["limits_not_applied"] == ["cluster_pilot", "talent_training"]


def test_a_batch_row_with_facts_not_known_is_decided_as_eval_batch_decides_it(
    server: Server, tmp_path: Path
) -> None:
    # a key left out, null or blank is a fact not known, in the service's batch as in `eval --batch`
    # (tests/test_batch_partial.py): the row decided as `eval --partial`, never an I101 error
    rows = [
        {**JIANGMEN_FACTS, "project_investment": ""},
        {**JIANGMEN_FACTS, "good_credit": None},
        {k: v for k, v in JIANGMEN_FACTS.items() if k != "in_5n_cluster"},
        JIANGMEN_FACTS,
    ]
    body = "".join(json.dumps(r) + "\n" for r in rows).encode("utf-8")
    for lang in ("zh", "en"):  # the reasons that name the facts still needed in the client's language
        status, _, data = server.call(
            f"/api/policies/jiangmen_special_fund/batch?date={IN_FORCE}",
            raw=body,
            headers={"Accept-Language": lang},
        )
        assert status == 200
        served = [json.loads(line) for line in data.decode("utf-8").splitlines()]
        assert [line.get("error") for line in served] == [None] * 4
        source, target = tmp_path / "people.jsonl", tmp_path / "out.jsonl"
        source.write_bytes(body)
        args = ["eval", str(JIANGMEN), "--batch", str(source), "-o", str(target), "--engine", "python",
                "--date", IN_FORCE, "--no-progress", "--lang", lang]  # fmt: skip
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        batch = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
        for line, row in zip(served, batch, strict=True):
            assert (line["total"]["status"], line["total"]["amount"]) == (
                row["total_status"],
                row["total_amount"],
            )
            for m in line["measures"]:
                name = m["measure"]
                assert (m["status"], m["amount"]) == (row[f"{name}.status"], row[f"{name}.amount"])
                assert "；".join(m["reasons"]) == (row[f"{name}.reasons"] or "")
        assert [line["total"]["status"] for line in served][:3] == ["undetermined"] * 3
        assert "项目总投入" in json.dumps(served[0], ensure_ascii=False)


def test_the_batch_arrives_before_it_is_all_decided(server: Server) -> None:
    """The first rows reach the client while the rest are still being decided."""
    body = ("\n".join(json.dumps(JIANGMEN_FACTS) for _ in range(3000)) + "\n").encode("utf-8")
    request = urllib.request.Request(
        f"{server.base}/api/policies/jiangmen_special_fund/batch?date={IN_FORCE}", data=body, method="POST"
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        assert answer.headers.get("transfer-encoding") == "chunked"
        first = answer.readline()
        rest = answer.read()
    assert json.loads(first)["row"] == 1
    assert len(rest.splitlines()) == 2999


def test_the_schema_gives_types_units_bounds_enums_and_labels(server: Server) -> None:
    status, schema = server.json("/api/policies/jiangmen_special_fund/schema")
    assert status == 200 and schema["type"] == "object" and schema["additionalProperties"] is False
    props = schema["properties"]
    assert props["sme"] == {"title": "中小企业", "x-kind": "bool", "type": "boolean"}
    assert props["established"]["format"] == "date"
    assert "cluster" in props["project"]["enum"] and "产业集群试点" in props["project"]["enum"]
    assert props["project_investment"]["minimum"] == 0 and props["project_investment"]["x-unit"] == "元"
    assert props["training_sessions"]["x-unit"] == "场"


def test_the_openapi_document_lists_every_route(server: Server) -> None:
    status, doc = server.json("/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.")
    listed = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    assert listed == {(r.method, r.path) for r in service.ROUTES}
    for route in service.ROUTES:  # each route answers as the document says (no 404, no 405)
        path = route.path.replace("{name}", "jiangmen_special_fund")
        status, _, _ = server.call(path, raw=b'{"facts": {}}' if route.method == "POST" else None)
        assert status in (200, 422), (route.path, status)


# ------------------------------------------------------------------------------ the errors


def error_of(server: Server, path: str, **kw: Any) -> tuple[int, dict[str, Any]]:
    status, headers, data = server.call(path, **kw)
    assert headers["content-type"].startswith("application/json")
    answer = json.loads(data)
    assert set(answer) == {"error"} and set(answer["error"]) == {"code", "message", "problems"}
    return status, answer["error"]


EVALUATE = "/api/policies/jiangmen_special_fund/evaluate"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "I102"),
        (b"\xff\xfe", 400, "I102"),
        (b"[1, 2]", 400, "I102"),
        (b'{"facts": [1]}', 400, "I102"),
        (b'{"facts": {}, "extra": 1}', 400, "I102"),
        (b'{"facts": {}, "date": "yesterday"}', 400, "I102"),
        (b'{"facts": {}, "date": 20230101}', 400, "I102"),
        (b'{"facts": {}, "explain": "no"}', 400, "I102"),
        (b'{"facts": {"sme": NaN}}', 400, "I102"),
        (b'{"facts": {"sme": "perhaps"}, "date": "2023-01-01"}', 422, "I101"),
        (b'{"facts": {"project_investment": 1.5e3}, "date": "2023-01-01"}', 422, "I101"),
        (b'{"facts": {"project_investment": -5}, "date": "2023-01-01"}', 422, "I101"),
        (b'{"facts": {"project": "bridge"}, "date": "2023-01-01"}', 422, "I101"),
        (b'{"facts": {"projct": "cluster"}, "date": "2023-01-01"}', 422, "I101"),
        (b'{"facts": {}, "date": "2023-01-01"}', 422, "I101"),  # evaluate needs every fact it reads
    ],
)
def test_a_bad_request_gets_its_documented_error(server: Server, body: bytes, status: int, code: str) -> None:
    got, error = error_of(server, EVALUATE, raw=body, headers={"Content-Type": "application/json"})
    assert (got, error["code"]) == (status, code), error
    assert (ROOT / "docs" / "errors" / f"{code}.md").is_file()


def test_the_facts_problems_are_those_eval_lists(server: Server, tmp_path: Path) -> None:
    facts = {**JIANGMEN_FACTS, "project": "bridge", "projct_investment": 1}
    _, error = error_of(server, EVALUATE, body={"facts": facts, "date": IN_FORCE})
    result = CliRunner().invoke(
        main, ["eval", str(JIANGMEN), "--facts", facts_file(tmp_path, facts), "--strict-facts"]
    )
    assert result.exit_code == 1 and "the facts cannot be used" in result.output
    assert error["problems"] and all(p in result.output for p in error["problems"])
    assert "did you mean `project_investment`?" in error["problems"][-1]


def test_an_unknown_policy_or_page(server: Server) -> None:
    status, error = error_of(server, "/api/policies/jiangmen/evaluate", body={"facts": {}})
    assert (status, error["code"]) == (404, "I104") and "jiangmen_special_fund" in error["message"]
    status, error = error_of(server, "/api/policies/jiangmen/schema")
    assert (status, error["code"]) == (404, "I104")
    status, error = error_of(server, "/no/such/page")
    assert (status, error["code"]) == (404, "I104")


def send_raw(server: Server, head: str, chunks: Iterator[bytes]) -> str:
    """Send a request by hand (the client may still be sending when the server answers and closes)
    and return the answer's head and body as text."""
    host, port = server.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(head.encode("ascii"))
        try:
            for chunk in chunks:
                conn.sendall(chunk)
        except OSError:
            pass  # the server answered and closed before the client stopped sending
        answer = b""
        while b"}}" not in answer:
            data = conn.recv(65536)
            if not data:
                break
            answer += data
    return answer.decode("latin-1")


def test_an_oversized_request_is_refused(server: Server) -> None:
    """Refused by its Content-Length before the body is read, or as soon as it passes the bound."""
    size = service.MAX_BODY + 1
    head = f"POST {EVALUATE} HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n"
    answer = send_raw(server, head, iter([]))  # not one byte of the body sent
    assert answer.startswith("HTTP/1.1 413") and '"code":"I103"' in answer, answer[:300]
    big = b'{"facts": {"industry_cluster": "' + b"x" * service.MAX_BODY + b'"}}'
    head = f"POST {EVALUATE} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(big)}\r\n\r\n"
    answer = send_raw(server, head, iter([big[i : i + 65536] for i in range(0, len(big), 65536)]))
    assert answer.startswith("HTTP/1.1 413") and '"code":"I103"' in answer
    rows = b"{}\n" * (service.MAX_ROWS + 1)
    status, error = error_of(server, "/api/policies/jiangmen_special_fund/batch", raw=rows)
    assert (status, error["code"]) == (413, "I103")


def test_a_body_without_a_length_is_still_bounded(server: Server) -> None:
    """A chunked body (no Content-Length) is cut at the bound, not read to its end."""
    chunk = b"x" * 65536
    head = f"POST {EVALUATE} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    count = service.MAX_BODY // len(chunk) + 2
    answer = send_raw(server, head, (b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(count)))
    assert answer.startswith("HTTP/1.1 413") and '"code":"I103"' in answer, answer[:300]


def test_a_request_over_time_is_answered_at_once(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "TIME_LIMIT", 0.2)
    monkeypatch.setattr(service, "decide", lambda *a, **k: time.sleep(2))
    started = time.monotonic()
    status, error = error_of(server, EVALUATE, body={"facts": {}})
    assert (status, error["code"]) == (503, "I105") and time.monotonic() - started < 1.5


def test_the_message_is_in_the_language_asked(server: Server) -> None:
    _, zh = error_of(server, EVALUATE, raw=b"{")
    _, en = error_of(server, EVALUATE, raw=b"{", headers={"Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"})
    _, zh2 = error_of(server, EVALUATE, raw=b"{", headers={"Accept-Language": "en;q=0.3, zh-CN"})
    assert zh["message"].startswith("请求内容不是有效的 JSON")
    assert en["message"].startswith("the request body is not valid JSON")
    assert zh2["message"] == zh["message"]


def test_nothing_of_a_request_is_written(server: Server, tmp_path: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in POLICIES.rglob("*")}
    server.call(EVALUATE, body={"facts": {"industry_cluster": "../../etc/passwd", "__import__": "os"}})
    assert {p: p.stat().st_mtime_ns for p in POLICIES.rglob("*")} == before


# ------------------------------------------------------------------------------ reload


def test_a_changed_policy_is_reloaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from policydsl.service import registry as reg

    monkeypatch.setattr(reg, "RECHECK_SECONDS", 0.0)
    policy = tmp_path / "jiangmen_special_fund.policy"
    shutil.copy(JIANGMEN, policy)
    body = {"facts": JIANGMEN_FACTS, "date": IN_FORCE}
    with Server(Registry([policy])) as running:
        _, answer = running.json(EVALUATE, body)
        assert answer["total"]["amount"] == "464000.00"
        text = policy.read_text(encoding="utf-8")
        policy.write_text(text.replace("cap 50万 cite", "cap 40万 cite"), encoding="utf-8")
        os.utime(policy, ns=(time.time_ns(), time.time_ns() + 10**9))
        _, answer = running.json(EVALUATE, body)
        assert answer["total"]["amount"] == "400000.00"
        # a file that no longer checks: the last good policy goes on being served, the error listed
        policy.write_text(text + "\nmeasure broken {", encoding="utf-8")
        os.utime(policy, ns=(time.time_ns(), time.time_ns() + 2 * 10**9))
        status, answer = running.json(EVALUATE, body)
        assert status == 200 and answer["total"]["amount"] == "400000.00"
        _, listing = running.json("/api/policies")
        assert "error" in listing["policies"][0]["reload_error"]


def test_a_request_in_flight_finishes_on_the_evaluator_it_started_with(tmp_path: Path) -> None:
    from policydsl.service import registry as reg

    policy = tmp_path / "p.policy"
    shutil.copy(JIANGMEN, policy)
    registry = Registry([policy])
    before = registry.get("p")
    assert before is not None
    policy.write_text(policy.read_text(encoding="utf-8").replace("cap 50万 cite", "cap 40万 cite"), "utf-8")
    os.utime(policy, ns=(time.time_ns(), time.time_ns() + 10**9))
    registry._checked["p"] -= reg.RECHECK_SECONDS + 1
    after = registry.get("p")
    assert after is not None and after is not before
    # the old evaluator is untouched: a request holding it decides as before
    old = before.evaluator.evaluate(JIANGMEN_FACTS, _date(IN_FORCE))
    new = after.evaluator.evaluate(JIANGMEN_FACTS, _date(IN_FORCE))
    assert (old.total.amount, new.total.amount) == (Decimal("464000.00"), Decimal("400000.00"))


def _date(text: str) -> Any:
    import datetime

    return datetime.date.fromisoformat(text)


def test_serve_refuses_a_policy_with_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.policy"
    bad.write_text('policy "x" {}\nmeasure m "m" { award 10万 if nothing }\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["serve", str(bad)])
    assert result.exit_code == 1 and "E101" in result.output


# ------------------------------------------------------------------------------ the questionnaire


def test_the_questionnaire_asks_only_what_is_needed(server: Server, tmp_path: Path) -> None:
    """An applicant of the Jiangmen policy answers the questions asked, a few at a time, until the
    result shows: the amount is `eval`'s, and the questions of the measures its project type rules
    out (中小企业, the training figures) are never asked."""
    executable = chromium()
    sync_api = browser_api()
    expected = cli_json(str(JIANGMEN), "--facts", facts_file(tmp_path, JIANGMEN_FACTS), "--date", IN_FORCE)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=BROWSER_ARGS)
        try:
            tab = browser.new_page()
            errors: list[str] = []
            tab.on("pageerror", lambda exc: errors.append(str(exc)))
            requests: list[str] = []
            tab.on("request", lambda r: requests.append(r.url))
            tab.goto(server.base + "/")
            assert tab.title() == "政策计算器"
            # today the policy has expired: the result (不符合) shows at once, with nothing asked
            tab.wait_for_selector("#result:not([hidden])")
            assert "已失效" in (tab.text_content("#result") or "")
            tab.fill("#date", IN_FORCE)
            tab.dispatch_event("#date", "change")
            tab.select_option("#policy", "jiangmen_special_fund")
            tab.dispatch_event("#policy", "change")
            asked: list[str] = []
            for _ in range(20):
                tab.wait_for_selector("#questions fieldset, #result:not([hidden])")
                if tab.is_visible("#result"):
                    break
                shown = tab.eval_on_selector_all(
                    "#questions [data-fact]", "els => els.map(e => e.dataset.fact)"
                )
                assert 0 < len(shown) <= 3
                for fact in shown:
                    asked.append(fact)
                    assert fact in JIANGMEN_FACTS, f"asked {fact}, which this applicant's answers never need"
                    value = JIANGMEN_FACTS[fact]
                    field = f"#fact-{fact}"
                    if isinstance(value, bool):
                        tab.select_option(field, "true" if value else "false")
                    elif tab.evaluate(f"document.querySelector('{field}').tagName") == "SELECT":
                        tab.select_option(field, value)
                    else:
                        tab.fill(field, str(value))
                with tab.expect_response(lambda r: r.url.endswith("/partial")):
                    tab.click("#questions button")
            else:
                pytest.fail("the questionnaire never showed a result")
            amount = tab.get_attribute("#result .amount", "data-amount")
            assert amount == expected["total"]["amount"] == "464000.00"
            text = tab.text_content("#result") or ""
            assert "产业集群试点" in text and "第八条(三)" in text
            for never in ("sme", "training_sessions", "trainees"):
                assert never not in asked
            assert "project" in asked and len(set(asked)) == len(asked)
            assert not errors
            assert all(url.startswith(server.base) for url in requests), requests
        finally:
            browser.close()


def test_the_page_shows_data_as_text_never_as_markup(server: Server) -> None:
    """What the server sends is set as text: a label holding markup is shown, not run."""
    app_js = (ROOT / "policydsl" / "service" / "static" / "app.js").read_text(encoding="utf-8")
    assert "innerHTML" not in app_js and "insertAdjacentHTML" not in app_js and "eval(" not in app_js
    status, headers, _ = server.call("/")
    assert status == 200 and "default-src 'self'" in headers["content-security-policy"]
