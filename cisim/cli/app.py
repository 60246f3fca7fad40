"""``cisim app``: serve the teaching app (:mod:`cisim.app`) in the browser.

The subcommand runs ``solara run`` on the app module in a child process (Solara's own server,
https://solara.dev/docs/understanding/solara-server) and waits for it; Ctrl-C stops it. Wired
into :mod:`cisim.cli` with :func:`add_parser`.
"""

from __future__ import annotations

import argparse
import errno
import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

from cisim.cli._common import EXIT_INTERRUPTED, EXIT_USAGE

__all__ = ["APP_PATH", "add_parser", "app_command", "app_environment"]

#: The app module served by ``cisim app``.
APP_PATH = Path(__file__).resolve().parent.parent / "app.py"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``app`` subcommand to the ``cisim`` parser."""
    p = subparsers.add_parser(
        "app",
        help="open the interactive teaching app in the browser",
        description="Serve the teaching app (Mesa and Solara) with sliders for the partnership's "
        "levers; open the printed address in a browser. Every browser gets its own run. "
        "Ctrl-C stops it. To serve a class, see docs/teaching.md.",
    )
    p.add_argument("--port", type=int, default=8765, metavar="PORT",
                   help="port to serve on; 0 picks a free one (default: 8765)")
    p.add_argument("--host", default="localhost", metavar="HOST",
                   help="address to listen on (default: localhost, this computer only; "
                   "0.0.0.0 lets other computers on the network connect)")
    p.add_argument("--open", action="store_true", help="open a browser tab")
    p.add_argument("--dev", action="store_true",
                   help="development mode: restart when the code changes")
    p.set_defaults(func=_cmd_app)


def app_command(port: int = 8765, host: str = "localhost", *, open_browser: bool = False,
                dev: bool = False) -> list[str]:
    """The command line that serves the app.

    Args:
        port: Port to listen on (0: a free one).
        host: Address to listen on.
        open_browser: Ask Solara to open a browser tab.
        dev: Development mode (auto-restart) instead of production mode.

    Returns:
        The argument vector of ``python -m solara run ...``.
    """
    cmd = [sys.executable, "-m", "solara", "run", str(APP_PATH), "--port", str(port),
           "--host", host, "--open" if open_browser else "--no-open"]
    if not dev:
        cmd.append("--production")
    return cmd


def app_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The server's environment: ``environ`` (default: this process's) with one numba thread.

    The server steps many visitors' models in threads of one process; the population kernel's
    own threads would only contend with them. ``NUMBA_NUM_THREADS`` already set is kept.
    """
    env = dict(os.environ if environ is None else environ)
    env.setdefault("NUMBA_NUM_THREADS", "1")
    return env


def _cmd_app(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        print(f"cisim app: --port must be between 0 and 65535, got {args.port}", file=sys.stderr)
        return EXIT_USAGE
    if importlib.util.find_spec("solara") is None:
        print("cisim app: the app needs Solara; install it with: pip install 'mesa[rec]'",
              file=sys.stderr)
        return EXIT_USAGE
    problem = _cannot_listen(args.host, args.port)
    if problem:
        print(f"cisim app: cannot serve on {args.host}:{args.port}: {problem}", file=sys.stderr)
        return EXIT_USAGE
    print(f"cisim app: serving on http://{args.host}:{args.port} (Ctrl-C stops)",
          file=sys.stderr)
    if args.host in ("0.0.0.0", "::"):
        print(f"cisim app: other computers open http://{socket.gethostname()}:{args.port} "
              "(or this computer's IP address)", file=sys.stderr)
    try:
        return subprocess.call(app_command(args.port, args.host, open_browser=args.open,
                                           dev=args.dev), env=app_environment())
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _cannot_listen(host: str, port: int) -> str | None:
    """Why the server could not listen on ``host:port`` (None when it can; port 0 always can)."""
    if port == 0:
        return None
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return f"{host!r} is not an address of this computer (try localhost or 0.0.0.0)"
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return ("the port is in use (another cisim app?); stop it or choose another "
                        "with --port")
            return f"{exc.strerror or exc} (try localhost or 0.0.0.0)"
    return None
