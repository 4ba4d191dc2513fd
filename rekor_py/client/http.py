"""A small synchronous Rekor v1 HTTP client on the standard library (urllib).

This module owns the requests and the shape checks of what comes back: each
call returns parsed JSON (or PEM bytes) or raises APIError.  Verifying what the
log says belongs to client/verify.py; printing belongs to the commands in rekor_py/cli/.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

__all__ = ["APIError", "DEFAULT_SERVER", "RekorClient", "Response"]

DEFAULT_SERVER = "http://127.0.0.1:3000"
_TIMEOUT_S = 30.0  # rekor-cli's artifact fetch timeout; plenty for one API call
# A search answer has no cap (docs/rekor-compat.md#api-search-index).
_MAX_RESPONSE = 64 * 1024 * 1024
_USER_AGENT = "rekor-py-client"


class APIError(Exception):
    """The server refused or could not be reached; `status` is 0 for network errors."""

    def __init__(self, status: int, message: str, location: str | None = None) -> None:
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status
        self.message = message
        self.location = location


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise APIError(self.status, f"server answered malformed JSON: {e}") from None


class RekorClient:
    """Calls one Rekor v1 server; `url` is its base, e.g. http://127.0.0.1:3000."""

    def __init__(self, url: str, *, timeout: float = _TIMEOUT_S) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"server URL must be http(s)://host[:port], got {url!r}")
        self.url = url.rstrip("/")
        self.timeout = timeout

    # ---- the API ------------------------------------------------------------------

    def create_entry(self, proposed: dict[str, Any]) -> Response:
        """POST /api/v1/log/entries: 201 or 409 come back; any other status raises."""
        return self._request("POST", "/api/v1/log/entries", proposed, accept=(201, 409))

    def get_entry_by_uuid(self, entry_uuid: str) -> Any:
        quoted = urllib.parse.quote(entry_uuid, safe="")
        return self._request("GET", f"/api/v1/log/entries/{quoted}").json()

    def get_entry_by_index(self, log_index: int) -> Any:
        return self._request("GET", f"/api/v1/log/entries?logIndex={log_index}").json()

    def get_by_location(self, location: str) -> Any:
        """GET an entry by the relative Location of a 409 (only /api/v1/log/entries/<id>)."""
        prefix = "/api/v1/log/entries/"
        if not location.startswith(prefix):
            raise APIError(0, f"unexpected Location from the server: {location[:200]!r}")
        return self.get_entry_by_uuid(location[len(prefix):])

    def create_v2_entry(self, request: dict[str, Any]) -> Response:
        """POST /api/v2/log/entries (Rekor v2): 201 or 409 come back; others raise."""
        return self._request("POST", "/api/v2/log/entries", request, accept=(201, 409))

    def search_v2(self, query: dict[str, Any]) -> Any:
        """rekor-py's POST /api/v2/index/retrieve: v2 entries with their proofs."""
        return self._request("POST", "/api/v2/index/retrieve", query).json()

    def v2_vkeys(self) -> str:
        """The v2 log's checkpoint verifier keys, one a line."""
        return self._request("GET", "/api/v2/checkpoint.vkeys",
                             accept_type="text/plain").body.decode("utf-8", "replace")

    def search_index(self, query: dict[str, Any]) -> Any:
        return self._request("POST", "/api/v1/index/retrieve", query).json()

    def log_info(self) -> Any:
        return self._request("GET", "/api/v1/log").json()

    def consistency_proof(self, first_size: int, last_size: int,
                          tree_id: str | None = None) -> Any:
        query = f"firstSize={first_size}&lastSize={last_size}"
        if tree_id is not None:
            query += f"&treeID={urllib.parse.quote(tree_id)}"
        return self._request("GET", f"/api/v1/log/proof?{query}").json()

    def trust_config(self) -> Any:
        """The server's ClientTrustConfig (rekor-py's GET /api/v1/trustConfig)."""
        return self._request("GET", "/api/v1/trustConfig").json()

    def public_key(self, tree_id: str | None = None) -> bytes:
        path = "/api/v1/log/publicKey"
        if tree_id is not None:
            path += f"?treeID={urllib.parse.quote(tree_id)}"
        return self._request("GET", path, accept_type="application/x-pem-file").body

    # ---- transport ----------------------------------------------------------------

    def _request(self, method: str, path: str, payload: Any = None, *,
                 accept: tuple[int, ...] = (200,),
                 accept_type: str = "application/json") -> Response:
        data = None
        headers = {"Accept": accept_type, "User-Agent": _USER_AGENT}
        if payload is not None:
            data = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as r:
                response = Response(r.status, r.read(_MAX_RESPONSE + 1), dict(r.headers))
        except urllib.error.HTTPError as e:
            response = Response(e.code, e.read(_MAX_RESPONSE + 1), dict(e.headers or {}))
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise APIError(0, f"cannot reach {self.url}: {reason}") from None
        if len(response.body) > _MAX_RESPONSE:
            raise APIError(response.status, "response is larger than 64 MiB")
        if response.status not in accept:
            raise APIError(response.status, _error_message(response),
                           response.headers.get("Location"))
        return response


def _error_message(response: Response) -> str:
    """Rekor's `{"code", "message"}` text, or a fallback (404 from entry GETs has no body)."""
    if not response.body:
        return "entry not found" if response.status == 404 else f"HTTP {response.status}"
    try:
        parsed = json.loads(response.body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return f"HTTP {response.status}: {response.body[:200].decode('utf-8', 'replace')}"
    if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
        return str(parsed["message"])
    return f"HTTP {response.status}"
