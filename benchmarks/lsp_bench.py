"""Time `policydsl lsp` as an editor sees it: the Bao'an policy opened, then edited 20 times; for each
edit, the time from `didChange` to the syntax and type diagnostics of that version.

    python benchmarks/lsp_bench.py [--edits 20] [--policy policies/baoan_industrial_internet.policy]

A real server process over standard input and output (the analysis findings, which come after a
pause, are not timed).  Prints the median and the 95th percentile; not a pass/fail test.  Figures
are recorded in docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parent.parent


async def run(policy: Path, edits: int) -> list[float]:
    client = LanguageClient("lsp-bench", "1")
    arrived: dict[int, float] = {}

    @client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def diagnostics(params: lsp.PublishDiagnosticsParams) -> None:
        if params.version is not None:
            arrived.setdefault(params.version, time.perf_counter())

    await client.start_io(sys.executable, "-m", "policydsl", "lsp")
    await client.initialize_async(lsp.InitializeParams(capabilities=lsp.ClientCapabilities()))
    client.initialized(lsp.InitializedParams())
    uri, text = policy.resolve().as_uri(), policy.read_text(encoding="utf-8")
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            lsp.TextDocumentItem(uri=uri, language_id="policy", version=1, text=text)
        )
    )
    await _until(arrived, 1)
    times: list[float] = []
    for version in range(2, edits + 2):
        # an edit a drafter makes: a comment line grows at the end of the file
        text += f"# edit {version}\n"
        sent = time.perf_counter()
        client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )
        await _until(arrived, version)
        times.append(arrived[version] - sent)
        await asyncio.sleep(0.1)  # typing speed: the analysis waits for a longer pause
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return times


async def _until(arrived: dict[int, float], version: int) -> None:
    while version not in arrived:
        await asyncio.sleep(0.001)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--policy", type=Path, default=ROOT / "policies" / "baoan_industrial_internet.policy")
    args = parser.parse_args()
    times = sorted(asyncio.run(run(args.policy, args.edits)))
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    lines = len(args.policy.read_text(encoding="utf-8").splitlines())
    print(f"{args.policy.name} ({lines} lines), {len(times)} edits: didChange to syntax+type diagnostics")
    median, worst = statistics.median(times), times[-1]
    print(f"  median {median * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {worst * 1000:.0f} ms")


if __name__ == "__main__":
    main()
