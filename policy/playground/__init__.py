"""`sip-policy playground`: a local web page to edit, check, explain and test the rules.

`workspace.py` does the work (the rules file on disk, checks, explanations, test runs,
atomic saves), `security.py` decides which requests are let in, `diffing.py` compares the
edit with the last committed version, `server.py` serves it all with the standard
library's `ThreadingHTTPServer`, and `static/` holds the page (plain HTML, CSS and JS).

Only `policy.cli.playground` imports this package, and only when the command runs, so the
other commands never pay for it.
"""
