"""Which requests the playground lets in.

The page can rewrite the rules file, so every request must:
- name a host this server answers to (`Host`): a page on some other site whose name was
  re-pointed at 127.0.0.1 (DNS rebinding) sends its own name and is refused;
- come from the page itself: an `Origin` other than the server's own, or a `Sec-Fetch-Site`
  that says another site sent it, is refused (and no CORS header is ever sent);
- carry the run's secret token (`?token=` or the `X-Playground-Token` header), compared
  in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import socket
from collections.abc import Mapping
from urllib.parse import parse_qs

TOKEN_HEADER = "X-Playground-Token"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
WILDCARDS = ("0.0.0.0", "::", "")
#: The request headers the checks read.
REQUEST_HEADERS = ("Host", "Origin", "Sec-Fetch-Site", TOKEN_HEADER)


def new_token() -> str:
    return secrets.token_urlsafe(24)


def _split_host(value: str) -> tuple[str, str]:
    """`name:port` or `[v6]:port` into (name, port); the port is '' when absent."""
    if value.startswith("["):
        name, _, rest = value.partition("]")
        return name + "]", rest.removeprefix(":")
    name, _, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
    return name, port


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


class Guard:
    """The checks, for one server bound to `host:port` with one token."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host = host
        self.port = str(port)
        self.token = token
        bound = f"[{host}]" if ":" in host else host
        self.names = {bound.lower()}
        if host == "localhost" or (_is_ip(host) and ipaddress.ip_address(host).is_loopback):
            self.names.update(LOOPBACK_NAMES)
        self.wildcard = host in WILDCARDS
        if self.wildcard:
            self.names.update({*LOOPBACK_NAMES, socket.gethostname().lower()})

    def host_ok(self, value: str | None) -> bool:
        """The `Host` header names this server. Bound to every address (`--host 0.0.0.0`),
        any IP address is fine too: a rebinding attack needs a domain name."""
        if not value:
            return False
        name, port = _split_host(value.strip().lower())
        if port != self.port:
            return False
        return name in self.names or (self.wildcard and _is_ip(name))

    def refusal(self, headers: Mapping[str, str], query: str) -> str | None:
        """Why this request is refused (403), or None to let it in."""
        host = headers.get("Host")
        if not self.host_ok(host):
            return "this server only answers requests addressed to it by its own address"
        origin = headers.get("Origin")
        if origin is not None and origin.lower() != f"http://{host}".lower():
            return "requests from other sites are refused"
        site = headers.get("Sec-Fetch-Site")
        if site is not None and site not in ("same-origin", "none"):
            return "requests from other sites are refused"
        given = headers.get(TOKEN_HEADER) or _query_token(query)
        if not given or not hmac.compare_digest(given.encode(), self.token.encode()):
            return "open the playground with the full address it printed (with its token)"
        return None


def _query_token(query: str) -> str:
    values = parse_qs(query).get("token") or [""]
    return values[0]
