"""The harness: every test that touches the database runs on SQLite and on PostgreSQL.

Each test gets a fresh database cloned from a migrated template (a file copy on SQLite,
CREATE DATABASE … TEMPLATE on PostgreSQL), so tests never see each other's rows.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from assay.api.app import build_context, create_app
from assay.api.context import AppContext
from assay.core import keys, migrate, models, schemas, users
from assay.core.db import Database
from assay.core.settings import Settings, get_settings
from assay.core.worker import WorkerPool
from tests.support.postgres import PostgresCluster, TemplateClones, find_bindir
from tests.support.receiver import LOOPBACK_ALLOW
from tests.support.servers import LiveServer

# Fast password hashing in tests; production default stays memory-hard.
os.environ.setdefault("ASSAY_PASSWORD_HASH_MEMORY_KIB", "1024")
get_settings.cache_clear()

DIALECTS = ["sqlite", "postgresql"]


def _postgres_required() -> bool:
    return os.environ.get("ASSAY_TEST_REQUIRE_POSTGRES") == "1" or os.environ.get("CI") == "true"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster | None]:
    bindir = find_bindir()
    if bindir is None:
        if _postgres_required():
            pytest.fail(
                "PostgreSQL server binaries not found: `apt-get install postgresql` "
                "(or run without ASSAY_TEST_REQUIRE_POSTGRES to skip PostgreSQL tests)"
            )
        yield None
        return
    cluster = PostgresCluster(bindir)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@dataclass
class DatabaseTemplate:
    dialect: str
    url: str
    cluster: PostgresCluster | None = None
    clones: TemplateClones | None = None


@pytest.fixture(scope="session", params=DIALECTS)
def db_template(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DatabaseTemplate]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
        db = Database(f"sqlite:///{path}")
        migrate.upgrade(db)
        db.dispose()
        yield DatabaseTemplate("sqlite", str(path))
        return
    cluster = request.getfixturevalue("pg_cluster")
    if cluster is None:
        pytest.skip("PostgreSQL not installed (apt-get install postgresql)")
    # A name of its own: a session fixture with parameters is set up again whenever the
    # tests a worker runs switch dialect (xdist's worksteal hands tests over in any order),
    # and the cluster outlives each set-up.
    name = f"assay_template_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    db = Database(cluster.url(name))
    migrate.upgrade(db)
    db.dispose()
    clones = TemplateClones(cluster, name)
    try:
        yield DatabaseTemplate("postgresql", name, cluster, clones)
    finally:
        clones.close()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@pytest.fixture
def dialect(db_template: DatabaseTemplate) -> str:
    return db_template.dialect


@contextmanager
def fresh_database(db_template: DatabaseTemplate, directory: Path) -> Iterator[str]:
    """The URL of a fresh, migrated database cloned from the template."""
    if db_template.dialect == "sqlite":
        path = directory / "assay.db"
        shutil.copyfile(db_template.url, path)
        yield f"sqlite:///{path}"
        return
    cluster, clones = db_template.cluster, db_template.clones
    assert cluster is not None and clones is not None
    name = clones.take()
    try:
        yield cluster.url(name)
    finally:
        clones.give_back(name)


def settings_for(database_url: str, data_dir: Path) -> Settings:
    """The settings every test server and app runs with, over the given database."""
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        secret_key="test-secret-key-with-enough-characters-0123456789",
        password_hash_memory_kib=1024,
        workers=0,
        job_poll_seconds=0.05,
        job_lease_seconds=2.0,
        job_retry_base_seconds=0.1,
        outbound_allow=LOOPBACK_ALLOW,
        warm_routes=False,  # routes built on first use: apps start faster (test_routing warms)
    )


@pytest.fixture
def database_url(db_template: DatabaseTemplate, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database for this test."""
    with fresh_database(db_template, tmp_path) as url:
        yield url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return settings_for(database_url, tmp_path / "data")


@pytest.fixture
def ctx(settings: Settings) -> Iterator[AppContext]:
    context = build_context(settings)
    try:
        yield context
    finally:
        context.db.dispose()


@pytest.fixture
def db(ctx: AppContext) -> Database:
    return ctx.db


@pytest.fixture
def pool(ctx: AppContext) -> Iterator[WorkerPool]:
    """A job worker thread running against this test's database."""
    workers = WorkerPool(ctx, threads=1, name="test")
    workers.start()
    yield workers
    workers.stop()


@pytest.fixture
def app(ctx: AppContext):
    return create_app(context=ctx, migrate_on_start=False, run_workers=False)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@dataclass
class Account:
    user: models.User
    key: str
    test_key: str
    password: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    @property
    def test_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.test_key}"}


class Accounts:
    """Makes users with live and test keys, one call per role."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.count = 0

    def make(self, role: str = "admin", *, email: str | None = None) -> Account:
        self.count += 1
        email = email or f"{role}{self.count}@example.test"
        password = f"password-{role}-{self.count}"
        with self.db.write() as session:
            user = users.create_user(
                session=session,
                user_in=schemas.UserCreate(
                    email=email, name=role.title(), role=role, password=password
                ),
            )
            _, live = keys.create_key(session=session, user=user, mode="live")
            _, test = keys.create_key(session=session, user=user, mode="test")
        return Account(user=user, key=live, test_key=test, password=password)


@pytest.fixture
def accounts(db: Database) -> Accounts:
    return Accounts(db)


@pytest.fixture
def admin(accounts: Accounts) -> Account:
    return accounts.make("admin")


# One real `assay serve` per test module (per dialect), for the tests that drive a server from
# outside (the browser, the SDK, the official Scale clients): a server start costs seconds, a
# test seconds more. Tests share nothing but the process: each makes its own people (the
# module's Accounts numbers them) and its own uniquely named projects and datasets. A test
# that needs a server of its own (a restart, other settings) starts a LiveServer itself; a
# module whose server needs other settings or environment overrides `module_settings` or
# `module_server_env`.


@pytest.fixture(scope="module")
def module_database_url(
    db_template: DatabaseTemplate, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh, migrated database shared by the tests of one module."""
    with fresh_database(db_template, tmp_path_factory.mktemp("module-db")) as url:
        yield url


@pytest.fixture(scope="module")
def module_settings(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return settings_for(module_database_url, tmp_path_factory.mktemp("module-data"))


@pytest.fixture(scope="module")
def module_accounts(module_settings: Settings) -> Iterator[Accounts]:
    db = Database(module_settings.resolved_database_url)
    try:
        yield Accounts(db)
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def module_server_env() -> dict[str, str]:
    """Extra environment for the module's server (plugins, log level…)."""
    return {}


@pytest.fixture(scope="module")
def module_server(
    module_settings: Settings,
    module_accounts: Accounts,
    module_server_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer]:
    """`assay serve` over the module's database, on a free loopback port."""
    log = tmp_path_factory.mktemp("module-serve") / "serve.log"
    live = LiveServer(module_settings, log, **module_server_env)
    try:
        yield live
    finally:
        live.stop()
