"""History store fixtures: SQLite in tmp_path, PostgreSQL on 127.0.0.1:5432 in a schema of its own per test."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fusion.history import HistoryStore, open_store

PG_BASE = "postgresql://postgres@127.0.0.1:5432/test"


def _pg_admin() -> Any:  # a psycopg.Connection; psycopg imported lazily
    import psycopg

    try:
        return psycopg.connect(PG_BASE, connect_timeout=5, autocommit=True)
    except psycopg.OperationalError as err:
        pytest.skip(f"PostgreSQL not reachable at {PG_BASE} (trust auth, database test): {err}")


@contextlib.contextmanager
def pg_schema_url() -> Iterator[str]:
    """A store URL whose search path is a fresh schema (then public, for PostGIS), dropped afterwards."""
    schema = f"jisf_hist_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin()
    admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_BASE}?options=-csearch_path%3D{schema},public"
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """``pg_schema_url`` as a fixture."""
    with pg_schema_url() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql", "postgresql-plain"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HistoryStore]:
    """The store on each backend: SQLite; PostgreSQL (PostGIS where available); PostgreSQL with postgis=off."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'history.db'}"
        s = open_store(url)
        yield s
        s.close()
        return
    with pg_schema_url() as url:
        s = open_store(url + ("&postgis=off" if request.param == "postgresql-plain" else ""))
        try:
            yield s
        finally:
            s.close()
