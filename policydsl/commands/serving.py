"""The `serve` command's work: build the served policies, then run the service under uvicorn."""

from __future__ import annotations

from pathlib import Path

from policydsl.api import PolicyError
from policydsl.commands.build import echo
from policydsl.evaluation import runtime as rt


def serve(files: tuple[Path, ...], host: str, port: int) -> int:
    """Exit 1 when a policy has errors (printed, nothing served); else serve until interrupted."""
    import uvicorn

    from policydsl.service.app import make_app
    from policydsl.service.registry import Registry

    try:
        registry = Registry(list(files))
    except (PolicyError, rt.InputError) as exc:
        echo(str(exc), err=True)
        return 1
    echo(f"serving {', '.join(registry.names)} on http://{host}:{port}/", err=True)
    uvicorn.run(make_app(registry), host=host, port=port, log_level="warning", access_log=False)
    return 0
