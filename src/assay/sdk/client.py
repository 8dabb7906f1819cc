"""`assay.Client`: the entry point of the Python SDK."""

from __future__ import annotations

import os
from types import TracebackType

from assay.sdk._api.users import UsersAPI
from assay.sdk._http import HTTP, AuthScheme
from assay.sdk.batches import Batches
from assay.sdk.blobs import Blobs
from assay.sdk.calibrations import Calibrations
from assay.sdk.datasets import Datasets
from assay.sdk.eval_runs import EvalRuns
from assay.sdk.eval_sets import EvalSets
from assay.sdk.evaluations import Evaluations
from assay.sdk.grading import Grading
from assay.sdk.human_evaluations import HumanEvaluations
from assay.sdk.jobs import Jobs
from assay.sdk.judges import Judges
from assay.sdk.keys import Keys
from assay.sdk.ml_models import Models
from assay.sdk.models import Me
from assay.sdk.projects import Projects
from assay.sdk.providers import Providers
from assay.sdk.quality import Quality
from assay.sdk.queue import Queue
from assay.sdk.rater_profiles import RaterProfiles
from assay.sdk.scenarios import Scenarios
from assay.sdk.slices import Slices
from assay.sdk.tasks import Tasks
from assay.sdk.users import Users
from assay.sdk.webhooks import Webhooks


class Client:
    """A connection to one Assay server with one API key.

    `Client("http://localhost:8000", "live_…")`; url and key default to the `ASSAY_URL` and
    `ASSAY_API_KEY` environment variables. Failed calls raise `assay.sdk.AssayError`
    subclasses; reads and creates are retried on connection errors and 429/502/503/504.
    """

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        auth: AuthScheme = "bearer",
    ) -> None:
        url = url or os.environ.get("ASSAY_URL")
        api_key = api_key or os.environ.get("ASSAY_API_KEY")
        if not url:
            raise ValueError("no server URL: pass url= or set ASSAY_URL")
        if not api_key:
            raise ValueError(
                "no API key: pass api_key= or set ASSAY_API_KEY "
                "(create one with `assay keys create --email you@example.com`)"
            )
        self.url = url.rstrip("/")
        self._http = HTTP(
            self.url, api_key, timeout=timeout, retries=retries, backoff=backoff, auth=auth
        )
        self._users_api = UsersAPI(self._http)
        self.users = Users(self._http)
        self.keys = Keys(self._http)
        self.jobs = Jobs(self._http)
        self.blobs = Blobs(self._http)
        self.webhooks = Webhooks(self._http)
        self.providers = Providers(self._http)
        self.judges = Judges(self._http)
        self.grading = Grading(self._http)
        self.projects = Projects(self._http)
        self.batches = Batches(self._http)
        self.tasks = Tasks(self._http)
        self.queue = Queue(self._http)
        self.quality = Quality(self._http)
        self.datasets = Datasets(self._http)
        self.slices = Slices(self._http)
        self.models = Models(self._http)
        self.evaluations = Evaluations(self._http)
        self.eval_sets = EvalSets(self._http)
        self.eval_runs = EvalRuns(self._http)
        self.scenarios = Scenarios(self._http)
        self.calibrations = Calibrations(self._http)
        self.human_evaluations = HumanEvaluations(self._http)
        self.rater_profiles = RaterProfiles(self._http)

    def me(self) -> Me:
        """Who the key belongs to, and whether it is a live or a test key (`.mode`)."""
        return self._users_api.me()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.url!r})"
