"""`sip-policy playground`: edit, check, explain and test the rules on a local web page.

The server is imported here, when the command runs, never when the CLI starts: the other
commands do not pay for it.
"""

from __future__ import annotations

import argparse
import errno
import sys
import threading
from pathlib import Path

from .common import DEFAULT_RULES


def playground_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "rules",
        nargs="?",
        default=DEFAULT_RULES,
        metavar="RULES",
        help=f"the rules file to edit (default: ./{DEFAULT_RULES})",
    )
    p.add_argument(
        "--port",
        type=int,
        default=8765,
        help="the port to listen on (default: 8765; 0: any free one)",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on (default: 127.0.0.1, this machine only)",
    )
    p.add_argument("--open", action="store_true", help="open the page in your web browser")


def cmd_playground(args: argparse.Namespace) -> int:
    from ..playground.server import PlaygroundServer
    from ..playground.workspace import Workspace

    rules = Path(args.rules)
    if rules.is_dir():
        print(f"error: `{rules}` is a folder; pass the rules file in it", file=sys.stderr)
        return 2
    if not rules.resolve().parent.is_dir():
        print(f"error: the folder of `{rules}` does not exist", file=sys.stderr)
        return 2
    try:
        server = PlaygroundServer(Workspace(rules), args.host, args.port)
    except OSError as exc:
        advice = (
            "pick another port with --port N (--port 0 picks a free one)"
            if exc.errno in (errno.EADDRINUSE, errno.EACCES)
            else "--host takes an address of this machine, e.g. 127.0.0.1"
        )
        print(
            f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}\n"
            f"  help: {advice}",
            file=sys.stderr,
        )
        return 2
    note = "" if rules.exists() else " (it does not exist yet: saving creates it)"
    print(f"sip-policy playground: editing {rules}{note}")
    print(f"open {server.url}")
    print("only this address works (it holds this run's secret); press Ctrl+C to stop", flush=True)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"warning: listening on {args.host}: anyone who can reach this machine and has "
            "the address can edit the file",
            file=sys.stderr,
        )
    threading.Thread(target=server.ws.warm_up, daemon=True).start()
    if args.open:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        server.server_close()
    return 0
