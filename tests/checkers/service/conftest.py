"""One real kimina-lean-server per test session (where Python >= 3.12 exists)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers.kimina import KiminaServer, ensure_kimina_env, kimina_server

#: the server's wait for a free REPL before it answers "No available REPLs"
MAX_WAIT_S = 2


@pytest.fixture(scope="session")
def kimina(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KiminaServer]:
    env = ensure_kimina_env()
    if env.python is None:
        pytest.skip(env.reason)
    work = tmp_path_factory.mktemp("kimina")
    with kimina_server(env.python, work, max_repls=1, max_wait_s=MAX_WAIT_S) as srv:
        yield srv
