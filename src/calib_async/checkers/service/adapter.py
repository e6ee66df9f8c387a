"""The adapter seam: one service API (kimina first) behind a small protocol.

An adapter builds the request body for one snippet, reads the reply into a
:class:`~calib_async.checkers.service.answer.ServiceAnswer` and maps it to an outcome. A new
service is one more entry in :data:`ADAPTERS` (the profile's ``api`` key).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from calib_async.checkers.service import kimina
from calib_async.checkers.service.answer import Mapped, ServiceAnswer


class ServiceAdapter(Protocol):
    name: str
    check_path: str  # appended to the profile's url
    version_path: str | None

    def request_timeout(self, timeout_s: float) -> float:
        """The timeout the API accepts for a tier timeout of ``timeout_s``."""
        ...

    def build_request(
        self, snippet_id: str, code: str, *, timeout_s: float, reuse: bool
    ) -> dict[str, Any]: ...

    def read_reply(self, body: bytes, snippet_id: str) -> ServiceAnswer:
        """Raises :class:`~calib_async.checkers.service.answer.BadReply`."""
        ...

    def map_answer(self, answer: ServiceAnswer) -> Mapped: ...

    def body_line_offset(self, code: str) -> int:
        """Lines of the snippet before the line the service numbers 1 in its messages."""
        ...

    def read_version(self, doc: Any) -> str | None: ...


class KiminaAdapter:
    """kimina-lean-server (see :mod:`calib_async.checkers.service.kimina`)."""

    def __init__(self) -> None:
        self.name: str = kimina.NAME
        self.check_path: str = kimina.CHECK_PATH
        self.version_path: str | None = kimina.VERSION_PATH

    def request_timeout(self, timeout_s: float) -> float:
        return kimina.request_timeout(timeout_s)

    def build_request(
        self, snippet_id: str, code: str, *, timeout_s: float, reuse: bool
    ) -> dict[str, Any]:
        return kimina.build_request(snippet_id, code, timeout_s=int(timeout_s), reuse=reuse)

    def read_reply(self, body: bytes, snippet_id: str) -> ServiceAnswer:
        return kimina.read_reply(body, snippet_id)

    def map_answer(self, answer: ServiceAnswer) -> Mapped:
        return kimina.map_answer(answer)

    def body_line_offset(self, code: str) -> int:
        return kimina.body_line_offset(code)

    def read_version(self, doc: Any) -> str | None:
        return kimina.read_version(doc)


ADAPTERS: Mapping[str, ServiceAdapter] = {kimina.NAME: KiminaAdapter()}
