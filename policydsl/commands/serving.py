"""The `serve` command's work: build the served policies, then run the service under uvicorn."""

from __future__ import annotations

import json
import os
from pathlib import Path

from policydsl.api import PolicyError
from policydsl.commands.build import echo
from policydsl.evaluation import runtime as rt

# how the command hands the policy files to worker processes (each builds its own evaluators)
FILES_VARIABLE = "POLICYDSL_SERVE_FILES"


def serve(files: tuple[Path, ...], host: str, port: int, workers: int = 1) -> int:
    """Exit 1 when a policy has errors (printed, nothing served); else serve until interrupted.
    With `workers` over 1, that many processes share the port (uvicorn's workers), each with its
    own compiled evaluators, reloaded on its own when a file changes."""
    import uvicorn

    from policydsl.service.app import make_app
    from policydsl.service.registry import Registry

    try:
        registry = Registry(list(files))
    except (PolicyError, rt.InputError) as exc:
        echo(str(exc), err=True)
        return 1
    workers_text = "" if workers == 1 else f" ({workers} worker processes)"
    echo(f"serving {', '.join(registry.names)} on http://{host}:{port}/{workers_text}", err=True)
    if workers == 1:
        uvicorn.run(make_app(registry), host=host, port=port, log_level="warning", access_log=False)
        return 0
    os.environ[FILES_VARIABLE] = json.dumps([str(path.resolve()) for path in files])
    uvicorn.run(
        "policydsl.commands.serving:worker_app",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
    )
    return 0


def worker_app() -> object:
    """The app of one worker process: the files the command checked (`FILES_VARIABLE`)."""
    from policydsl.service.app import make_app
    from policydsl.service.registry import Registry

    return make_app(Registry([Path(p) for p in json.loads(os.environ[FILES_VARIABLE])]))
