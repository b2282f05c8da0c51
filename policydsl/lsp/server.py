"""The protocol side of `policydsl lsp` (pygls over standard input and output): documents kept per
URI, the checks run on every change, the analysis after a pause in a worker thread, and each request
answered by the plain functions of features.py."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sys
from importlib.metadata import PackageNotFoundError, version
from multiprocessing.connection import Connection
from typing import BinaryIO, cast

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer

from policydsl.analysis.base import Options
from policydsl.diagnostics import Diagnostic
from policydsl.lsp import features
from policydsl.lsp.features import Document
from policydsl.lsp.index import Index

# The analysis starts once the file has been open or unchanged this long (at once on save).
PAUSE_SECONDS = 0.5
# The analysis of one version is bounded by the solver's budget: questions asked and steps per
# question (the same limits as `check`), a shorter time per question than `check`'s 2 s, and a clock:
# the process it runs in is ended once it takes longer, or once the text has changed.
ANALYSIS = Options(timeout_ms=1000)
ANALYSIS_SECONDS = 60.0


def _version() -> str:
    try:
        return version("policydsl")
    except PackageNotFoundError:  # run from a checkout that is not installed
        return "0"


def analyse_apart(conn: Connection, uri: str, text: str, lang: str | None, options: Options) -> None:
    """In a process of its own: check and analyse `text`, and send the findings back."""
    os.dup2(2, 1)  # standard output is the editor's channel: nothing of this process may reach it
    doc = features.open_document(uri, text, lang)
    conn.send(features.findings(doc, options))
    conn.close()


class PolicyServer(LanguageServer):
    """The server: the last `documents` checked, the analysis `findings` of a version, the last
    `names` that checked (for completion while the text does not), the analyses `pending`."""

    def __init__(self, lang: str | None = None) -> None:
        super().__init__("policydsl", _version(), text_document_sync_kind=lsp.TextDocumentSyncKind.Full)
        self.lang = lang
        self.options = ANALYSIS
        self.documents: dict[str, tuple[int, Document]] = {}
        self.findings: dict[str, tuple[int, tuple[Diagnostic, ...]]] = {}
        self.names: dict[str, Index] = {}
        self.pending: dict[str, asyncio.Task[None]] = {}
        self.shut_down = False  # the editor asked for a shutdown before it said exit

    # ---------------------------------------------------------------------------- documents
    def refresh(self, uri: str) -> Document:
        """Check the workspace's text of `uri` and publish what the checks find."""
        text_document = self.workspace.get_text_document(uri)
        number = text_document.version or 0
        doc = features.open_document(uri, text_document.source, self.lang)
        self.documents[uri] = (number, doc)
        if doc.index is not None:
            self.names[uri] = doc.index
        self.publish(uri)
        return doc

    def problems(self, uri: str) -> tuple[Diagnostic, ...]:
        """The check problems of the current version, and its analysis findings once known."""
        number, doc = self.documents[uri]
        found = self.findings.get(uri)
        return doc.problems + (found[1] if found is not None and found[0] == number else ())

    def publish(self, uri: str) -> None:
        number, doc = self.documents[uri]
        shown = features.diagnostics(doc, self.problems(uri))
        self.text_document_publish_diagnostics(
            lsp.PublishDiagnosticsParams(uri=uri, version=number, diagnostics=shown)
        )

    def analyse_later(self, uri: str, delay: float) -> None:
        """Analyse the current version of `uri` after `delay` seconds unless it changes first."""
        waiting = self.pending.pop(uri, None)
        if waiting is not None:
            waiting.cancel()
        number, _ = self.documents[uri]
        self.pending[uri] = asyncio.get_running_loop().create_task(self._analyse(uri, number, delay))

    async def _analyse(self, uri: str, number: int, delay: float) -> None:
        await asyncio.sleep(delay)
        current = self.documents.get(uri)
        if current is None or current[0] != number:
            return
        doc = current[1]
        # A process of its own, not a thread: it can be ended when the text changes or it takes too
        # long (the solver cannot be interrupted from another thread), and the event loop never waits.
        context = multiprocessing.get_context("spawn")
        receiver, sender = context.Pipe(duplex=False)
        worker = context.Process(
            target=analyse_apart, args=(sender, uri, doc.text, self.lang, self.options), daemon=True
        )
        worker.start()
        sender.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ANALYSIS_SECONDS
        try:
            while not receiver.poll():
                latest = self.documents.get(uri)
                stale = latest is None or latest[0] != number
                if stale or loop.time() > deadline or (not worker.is_alive() and not receiver.poll()):
                    return  # stale, too long, or failed: the check diagnostics stand alone
                await asyncio.sleep(0.05)
            found: tuple[Diagnostic, ...] = receiver.recv()
        except (EOFError, OSError):
            return
        finally:
            if worker.is_alive():
                worker.kill()
            worker.join(1)
            receiver.close()
        latest = self.documents.get(uri)
        if latest is None or latest[0] != number:
            return  # stale: the findings are of an older text
        self.findings[uri] = (number, found)
        self.publish(uri)

    def current(self, uri: str) -> Document:
        known = self.documents.get(uri)
        return known[1] if known is not None else self.refresh(uri)


def make_server(lang: str | None = None) -> PolicyServer:
    """The server with every feature registered."""
    server = PolicyServer(lang)

    @server.feature(lsp.INITIALIZE)
    def initialize(ls: PolicyServer, params: lsp.InitializeParams) -> None:
        options = params.initialization_options
        if isinstance(options, dict) and options.get("lang") in ("zh", "en"):
            ls.lang = str(options["lang"])

    @server.feature(lsp.SHUTDOWN)
    def shutdown(ls: PolicyServer, params: None) -> None:
        ls.shut_down = True

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: PolicyServer, params: lsp.DidOpenTextDocumentParams) -> None:
        ls.refresh(params.text_document.uri)
        ls.analyse_later(params.text_document.uri, PAUSE_SECONDS)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: PolicyServer, params: lsp.DidChangeTextDocumentParams) -> None:
        ls.refresh(params.text_document.uri)
        ls.analyse_later(params.text_document.uri, PAUSE_SECONDS)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: PolicyServer, params: lsp.DidSaveTextDocumentParams) -> None:
        if params.text_document.uri in ls.documents:
            ls.analyse_later(params.text_document.uri, 0)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: PolicyServer, params: lsp.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        waiting = ls.pending.pop(uri, None)
        if waiting is not None:
            waiting.cancel()
        for table in (ls.documents, ls.findings, ls.names):
            table.pop(uri, None)
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    def hover(ls: PolicyServer, params: lsp.HoverParams) -> lsp.Hover | None:
        return features.hover(ls.current(params.text_document.uri), params.position)

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    def definition(ls: PolicyServer, params: lsp.DefinitionParams) -> list[lsp.Location]:
        return features.definition(ls.current(params.text_document.uri), params.position)

    @server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
    def references(ls: PolicyServer, params: lsp.ReferenceParams) -> list[lsp.Location]:
        doc = ls.current(params.text_document.uri)
        return features.references(doc, params.position, params.context.include_declaration)

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def symbols(ls: PolicyServer, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol]:
        return features.symbols(ls.current(params.text_document.uri))

    @server.feature(
        lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=[".", *"0123456789"])
    )
    def completion(ls: PolicyServer, params: lsp.CompletionParams) -> lsp.CompletionList:
        uri = params.text_document.uri
        items = features.completion(ls.current(uri), params.position, ls.names.get(uri))
        return lsp.CompletionList(is_incomplete=False, items=items)

    @server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
    def formatting(ls: PolicyServer, params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit] | None:
        doc = ls.current(params.text_document.uri)
        edits = features.formatting(doc)
        if edits is None:  # refused politely: no edit, and a word on why
            ls.window_show_message(
                lsp.ShowMessageParams(type=lsp.MessageType.Info, message=features.refused_formatting(doc))
            )
        return edits

    @server.feature(
        lsp.TEXT_DOCUMENT_CODE_ACTION, lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix])
    )
    def code_action(ls: PolicyServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        uri = params.text_document.uri
        return features.code_actions(ls.current(uri), ls.problems(uri), params.range)

    return server


def serve(lang: str | None = None) -> int:
    """Run the server over standard input and output until the editor closes it; the exit code the
    protocol asks for: 0 after a shutdown request, 1 when the input ended or `exit` came without one."""
    server = make_server(lang)
    server.start_io(sys.stdin.buffer, cast(BinaryIO, _Kept(sys.stdout.buffer)))
    return 0 if server.shut_down else 1


class _Kept:
    """Standard output for the protocol, flushed but left open when the server stops: the command
    layer still reports its exit code through it (and so do tests driving the command in-process)."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream

    def write(self, data: bytes) -> int:
        return self.stream.write(data)

    def flush(self) -> None:
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()
