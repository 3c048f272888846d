"""`sip-policy playground`: edit, check, explain and test the rules on a local web page.

The server is imported here, when the command runs, never when the CLI starts: the other
commands do not pay for it.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path


def cmd_playground(args: argparse.Namespace) -> int:
    from ..playground.server import PlaygroundServer
    from ..playground.workspace import Workspace

    rules = Path(args.rules)
    if rules.is_dir() or not rules.resolve().parent.is_dir():
        print(f"error: `{rules}` is not a rules file in an existing folder", file=sys.stderr)
        return 2
    try:
        server = PlaygroundServer(Workspace(rules), args.host, args.port)
    except OSError as exc:
        print(
            f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}\n"
            "  help: pick another port with --port N (--port 0 picks a free one)",
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
