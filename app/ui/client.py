"""The web UI's only way to the data: the REST API over HTTP, so UI and API scale separately."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, cast
from urllib.parse import quote

import httpx


class ApiProblem(RuntimeError):
    """The API said no (its problem ``detail``), or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class StreamEvent:
    kind: str  # token, citations, done, error
    data: dict[str, Any]


class CitewiseClient:
    def __init__(self, base_url: str, api_key: str = "", timeout_s: float = 180.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    # -- plumbing ----------------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiProblem(f"cannot reach the Citewise API at {self.base_url} ({exc})") from exc
        _raise_for_problem(response)
        return response.json()

    def _object(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """``_call`` for an endpoint whose body is a JSON object."""
        return cast("dict[str, Any]", self._call(method, path, **kwargs))

    # -- endpoints ---------------------------------------------------------------------------------

    def health(self) -> bool:
        try:
            return self._http.get("/healthz", timeout=3).status_code == 200
        except httpx.HTTPError:
            return False

    def readiness(self) -> dict[str, Any]:
        """What /readyz reports (its body is the same whether it answers 200 or 503)."""
        try:
            response = self._http.get("/readyz", timeout=10)
        except httpx.HTTPError as exc:
            raise ApiProblem(f"cannot reach the Citewise API at {self.base_url} ({exc})") from exc
        return cast("dict[str, Any]", response.json())

    def models(self) -> list[str]:
        return [m["id"] for m in self._call("GET", "/v1/models")["data"]]

    def collections(self) -> list[dict[str, Any]]:
        return cast("list[dict[str, Any]]", self._call("GET", "/v1/collections"))

    def create_collection(self, name: str, description: str = "") -> dict[str, Any]:
        return self._object("POST", "/v1/collections", json={"name": name, "description": description})

    def delete_collection(self, name: str) -> dict[str, Any]:
        return self._object("DELETE", f"/v1/collections/{name}")

    def documents(self, collection: str | None = None, offset: int = 0, limit: int = 200) -> dict[str, Any]:
        params: dict[str, Any] = {"offset": offset, "limit": limit}
        if collection:
            params["collection"] = collection
        return self._object("GET", "/v1/documents", params=params)

    def document(self, document_id: int) -> dict[str, Any]:
        return self._object("GET", f"/v1/documents/{document_id}")

    def delete_document(self, document_id: int) -> dict[str, Any]:
        return self._object("DELETE", f"/v1/documents/{document_id}")

    def upload(self, collection: str | None, files: list[tuple[str, BinaryIO | bytes]]) -> dict[str, Any]:
        """Upload into ``collection`` (None: the server's default collection); returns the job."""
        parts = [("files", (name, content)) for name, content in files]
        data = {"collection": collection} if collection else {}
        return self._object("POST", "/v1/documents", files=parts, data=data)

    def job(self, job_id: int) -> dict[str, Any]:
        return self._object("GET", f"/v1/jobs/{job_id}")

    def eval_runs(self, collection: str) -> list[dict[str, Any]]:
        """The saved ``citewise eval`` runs of a collection, newest first, with their metrics."""
        runs = self._object("GET", "/v1/evals", params={"collection": collection})["runs"]
        return cast("list[dict[str, Any]]", runs)

    def eval_run(self, collection: str, run_id: str) -> dict[str, Any]:
        """One saved run with a row per question (``results``)."""
        return self._object("GET", f"/v1/evals/{quote(collection, safe='')}/{quote(run_id, safe='')}")

    def search(self, query: str, **options: Any) -> dict[str, Any]:
        return self._object("POST", "/v1/search", json={"query": query, **_clean(options)})

    def ask(self, question: str, **options: Any) -> dict[str, Any]:
        return self._object("POST", "/v1/ask", json={"question": question, **_clean(options)})

    def ask_stream(self, question: str, **options: Any) -> Iterator[StreamEvent]:
        """Server-Sent Events of ``POST /v1/ask``: tokens, then citations and the whole answer."""
        body = {"question": question, "stream": True, **_clean(options)}
        try:
            with self._http.stream("POST", "/v1/ask", json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    _raise_for_problem(response)
                kind, data = "", ""
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: "):
                        data = line[6:]
                    elif not line and kind:
                        yield StreamEvent(kind, json.loads(data))
                        kind, data = "", ""
        except httpx.HTTPError as exc:
            raise ApiProblem(f"lost the connection to the Citewise API ({exc})") from exc


def _clean(options: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in options.items() if value not in (None, [], "")}


def _raise_for_problem(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        detail = response.json().get("detail") or response.text
    except ValueError:
        detail = response.text or response.reason_phrase
    if response.status_code == 429:
        detail = (
            f"the server is busy ({detail}); try again in {response.headers.get('Retry-After', 'a few')} s"
        )
    raise ApiProblem(str(detail), response.status_code)
