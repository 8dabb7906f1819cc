"""`client.eval_sets`: private evaluation sets — import files as versions, read items (each
read logged on the server), export with the set's canary, seal, share with owners."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from assay.sdk._api._endpoint import API_PREFIX
from assay.sdk._api.eval_sets import EvalSetsAPI
from assay.sdk._http import HTTP
from assay.sdk._pages import iterate
from assay.sdk.eval_models import EvalItem, EvalSet, EvalSetRead, EvalSetVersion
from assay.sdk.jobs import Jobs
from assay.sdk.models import Job

FORMATS_BY_SUFFIX = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}


class EvalSets:
    def __init__(self, http: HTTP) -> None:
        self._http = http
        self._api = EvalSetsAPI(http)
        self._jobs = Jobs(http)

    def create(self, name: str, *, description: str = "", sealed: bool = False) -> EvalSet:
        """A private set owned by you; `sealed=True`: its items never leave the server
        (except in requests to the model under test). Safe to retry."""
        body = {"name": name, "description": description, "sealed": sealed}
        return self._api.create(json=body)

    def list(self) -> Iterator[EvalSet]:
        """Your sets, and other sets with a public teaser."""
        return iterate(lambda cursor: self._api.list(params={"cursor": cursor}))

    def get(self, set_id: str) -> EvalSet:
        return self._api.get(set_id=set_id)

    def seal(self, set_id: str) -> EvalSet:
        """Seal the set for good."""
        return self._api.seal(set_id=set_id)

    def owners(self, set_id: str) -> list[str]:
        return self._api.owners(set_id=set_id).user_ids

    def add_owner(self, set_id: str, user_id: str) -> list[str]:
        return self._api.add_owner(set_id=set_id, json={"user_id": user_id}).user_ids

    def import_file(
        self,
        set_id: str,
        file: str | Path | bytes,
        *,
        format: str | None = None,
        message: str = "",
        replace: bool = False,
        wait: bool = True,
        timeout: float | None = None,
    ) -> Job:
        """Import a JSONL, CSV or Parquet file (a path, or its bytes with `format`) as the
        set's next version; with `wait`, the finished job (`JobFailed` names the line and
        field of a bad file, and nothing was written)."""
        if isinstance(file, bytes):
            data = file
        else:
            path = Path(file)
            data = path.read_bytes()
            format = format or FORMATS_BY_SUFFIX.get(path.suffix.lower())
        if format is None:
            raise ValueError("say format= ('jsonl', 'csv' or 'parquet')")
        job = self._api.import_file(
            set_id=set_id,
            params={"format": format, "message": message, "replace": replace},
            content=data,
        )
        return self._jobs.wait(job.id, timeout=timeout, poll=0.2) if wait else job

    def remove(self, set_id: str, external_ids: list[str], *, message: str = "") -> EvalSetVersion:
        """Retire items by external id: the next version."""
        body = {"external_ids": external_ids, "message": message}
        return self._api.remove(set_id=set_id, json=body)

    def versions(self, set_id: str) -> Iterator[EvalSetVersion]:
        return iterate(lambda cursor: self._api.versions(set_id=set_id, params={"cursor": cursor}))

    def version(self, set_id: str, number: int) -> EvalSetVersion:
        return self._api.version(set_id=set_id, number=number)

    def items(self, set_id: str, *, version: int | None = None) -> Iterator[EvalItem]:
        """The version's items (the newest version by default); each page read is logged."""
        return iterate(
            lambda cursor: self._api.items(
                set_id=set_id, params={"cursor": cursor, "version": version, "limit": 1000}
            )
        )

    def item(self, set_id: str, item_id: str) -> EvalItem:
        return self._api.item(set_id=set_id, item_id=item_id)

    def teaser(self, set_id: str, *, version: int | None = None) -> Iterator[EvalItem]:
        """The public teaser split."""
        return iterate(
            lambda cursor: self._api.teaser(
                set_id=set_id, params={"cursor": cursor, "version": version}
            )
        )

    def export(self, set_id: str, *, version: int | None = None) -> bytes:
        """The version as JSONL: a header line, then the items, the set's canary in each."""
        path = f"{API_PREFIX}/eval-sets/{quote(set_id, safe='')}/export"
        return self._http.request("GET", path, params={"version": version}).content

    def reads(self, set_id: str) -> Iterator[EvalSetRead]:
        """The read log, newest first."""
        return iterate(lambda cursor: self._api.reads(set_id=set_id, params={"cursor": cursor}))

    def check_canaries(self, text: str) -> list[dict[str, Any]]:
        """The sets (yours; admins: any) whose canary the text contains."""
        result = self._api.check_canaries(json={"text": text})
        return [match.model_dump() for match in result.matches]
