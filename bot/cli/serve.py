"""Commands of the long-running service: `serve`, `web` and `health`."""

import json
import logging
from typing import Annotated

import typer

from bot.cli.app import app, jsonable, open_store, out, print_rows
from bot.clock import utc_now
from bot.config import Settings
from bot.service import logs
from bot.service.state import read_health
from bot.web.links import missing_base_url_warning


def _warn_about_settings(settings: Settings, logger: str) -> None:
    """Log one warning when a missing setting costs the mail its links (before serving)."""
    warning = missing_base_url_warning(settings)
    if warning is not None:
        logging.getLogger(logger).warning(warning, extra={"setting": "web.base_url"})


Host = Annotated[
    str | None,
    typer.Option("--host", help="Listen on this address (default: web.host, 127.0.0.1)."),
]
Port = Annotated[
    int | None,
    typer.Option("--port", min=1, max=65535, help="Listen on this port (default: web.port, 8080)."),
]


def _listening_on(settings: Settings, host: str | None, port: int | None) -> Settings:
    """The settings with `--host` and `--port`, when given, in place of web.host and web.port."""
    given = {"host": host, "port": port}
    web = settings.web.model_copy(update={k: v for k, v in given.items() if v is not None})
    return settings.model_copy(update={"web": web})


@app.command()
def serve(host: Host = None, port: Port = None) -> None:
    """Run the service: scheduled inbox scans, feed polls and digests, and the web app.

    Stops cleanly on SIGTERM or SIGINT. Logs go to stderr, one line per job run.
    """
    from bot.service.service import Service  # the scheduler and the web app: see bot.cli

    settings, engine = open_store(create=True)
    settings = _listening_on(settings, host, port)
    logs.configure(
        fmt=settings.log.format,
        level=settings.log.level,
        secret_params=settings.ingest.secret_params,
    )
    _warn_about_settings(settings, "paperbot.serve")
    Service(engine, settings).run()


@app.command()
def health(
    as_json: Annotated[bool, typer.Option("--json", help="Print the state as JSON.")] = False,
) -> None:
    """Say whether `paperbot serve` is alive and how its jobs went; exit 1 when it is not.

    With several workers on one database, the one judged is the newest on this
    machine (any machine's when none ran here); all are listed.
    """
    _, engine = open_store()
    state = read_health(engine, now=utc_now())
    if as_json:
        out.print_json(json.dumps(jsonable(state.as_json(errors=True))))
    else:
        if state.alive:
            out.print(
                f"alive: {state.holder}, last heartbeat {state.beat_at:%Y-%m-%d %H:%M:%S} UTC"
            )
        elif state.beat_at is None:
            out.print("not running: no heartbeat recorded")
        else:
            out.print(f"not running: last heartbeat {state.beat_at:%Y-%m-%d %H:%M:%S} UTC")
        if len(state.workers) > 1 or state.leader is not None:
            out.print(f"leading the schedule: {state.leader or 'nobody'}")
            print_rows(
                ("worker", "state", "started", "last heartbeat"),
                (
                    (
                        worker.holder,
                        "alive" if worker.alive else "gone",
                        f"{worker.started_at:%Y-%m-%d %H:%M:%S}",
                        f"{worker.beat_at:%Y-%m-%d %H:%M:%S}",
                    )
                    for worker in state.workers
                ),
                empty="no workers",
            )
        print_rows(
            ("job", "last outcome", "last success", "next run", "last error"),
            (
                (
                    job.name,
                    job.last_outcome or "",
                    f"{job.last_success_at:%Y-%m-%d %H:%M:%S}" if job.last_success_at else "never",
                    f"{job.next_run_at:%Y-%m-%d %H:%M:%S}" if job.next_run_at else "",
                    job.last_error or "",
                )
                for job in state.jobs
            ),
            empty="no jobs scheduled yet",
        )
    if not state.alive:
        raise typer.Exit(1)


@app.command()
def web(host: Host = None, port: Port = None) -> None:
    """Serve only the web pages (subscribe, manage, unsubscribe), without the scheduler."""
    import uvicorn  # the web app's parts: see bot.cli

    from bot.web.app import create_app
    from bot.web.serving import proxy_options

    settings, engine = open_store(create=True)
    settings = _listening_on(settings, host, port)
    logs.configure(
        fmt=settings.log.format,
        level=settings.log.level,
        secret_params=settings.ingest.secret_params,
    )
    _warn_about_settings(settings, "paperbot.web")
    uvicorn.run(
        create_app(engine, settings, clock=utc_now),
        host=settings.web.host,
        port=settings.web.port,
        log_config=None,
        lifespan="off",
        **proxy_options(settings.web),
    )
