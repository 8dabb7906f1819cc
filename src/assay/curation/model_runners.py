"""Hosted models' runners: what turns a batch of items into predictions, behind one small
interface (as embedders are), registered by name.

A runner is called with a batch of items — dicts with `item_id`, `reference_id`, `kind`,
`media` (the bytes, or None), `text`, `metadata`, `width`, `height` — and answers, for each
item in order, a list of predictions in the annotation model (`{"type": "box", "label",
"x", …, "confidence"}`) or an `ItemError` (that item failed; the others stand). Raising fails
the whole batch: the job retries it later.

- `python`: a callable registered with `register_model_runner(name, fn)` (a plugin module in
  `ASSAY_PLUGINS` does it when imported), or published by an installed package under the
  entry-point group `assay.model_runners`.
- `openai`: an OpenAI-compatible chat-completions endpoint asked, item by item, for one
  category as JSON (`{"label": …, "confidence": …}`): text items send their text, images a
  `data:` URI. 429 and 5xx answers are retried with backoff; a malformed answer is that
  item's error. Requests go through `core/outbound` (the operator's outbound policy).

Runners are plain picklable objects so a Ray worker can run them (`core/compute.py`).
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from typing import Any

import filetype
import msgspec

from assay.core import crypto, outbound
from assay.core.errors import Invalid
from assay.curation import wire
from assay.curation.items import check_shape

ENTRY_POINTS = "assay.model_runners"
RunnerFn = Callable[[list[dict[str, Any]]], Sequence[Any]]
_runners: dict[str, RunnerFn] = {}


@dataclass(frozen=True)
class ItemError:
    """One item's failure, recorded in the run's result; the other items are written."""

    message: str


def register_model_runner(name: str, fn: RunnerFn) -> None:
    _runners[name] = fn


def get_model_runner(name: str) -> RunnerFn:
    """The callable registered under `name` (here, or by an installed entry point)."""
    if name not in _runners:
        for point in importlib_metadata.entry_points(group=ENTRY_POINTS):
            if point.name == name:
                _runners[name] = point.load()
    found = _runners.get(name)
    if found is None:
        raise Invalid(
            f"no model runner named {name!r} (known: {', '.join(sorted(_runners)) or 'none'})",
            field="runner.name",
        )
    return found


def checked_predictions(answer: Any) -> list[dict[str, Any]] | ItemError:
    """A runner's answer for one item as stored shapes, or the ItemError saying what is
    wrong with it (the first bad field)."""
    if isinstance(answer, ItemError):
        return answer
    if not isinstance(answer, list):
        return ItemError(f"the runner answered {type(answer).__name__}, not a list of shapes")
    shapes = []
    for k, one in enumerate(answer):
        try:
            shape = msgspec.convert(one, wire.Shape)
            check_shape(shape, f"[{k}]")
        except msgspec.ValidationError as error:
            return ItemError(f"prediction [{k}]: {error}")
        except Invalid as error:
            return ItemError(f"prediction {error.field}: {error.message}")
        shapes.append(msgspec.to_builtins(shape))
    return shapes


@dataclass(frozen=True)
class PythonRunner:
    """A registered callable (pickled by reference: a Ray worker imports its module)."""

    fn: RunnerFn

    def __call__(self, items: list[dict[str, Any]]) -> list[list[dict[str, Any]] | ItemError]:
        answers = list(self.fn(items))
        if len(answers) != len(items):
            raise RuntimeError(f"the runner answered {len(answers)} results for {len(items)} items")
        return [checked_predictions(a) for a in answers]


ANSWER_FORMAT = (
    'Answer with one JSON object and nothing else: {"label": "<the label>", '
    '"confidence": <a number from 0 to 1>}.'
)
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


class EndpointUnavailable(RuntimeError):
    """The endpoint kept answering 429/5xx (or not at all): the batch is retried later."""


@dataclass(frozen=True)
class OpenAIRunner:
    """One chat-completions request per item, asking for a category as JSON."""

    base_url: str
    model: str
    prompt: str
    api_key: str | None = field(default=None, repr=False)  # never in reprs, logs or errors
    labels: tuple[str, ...] = ()
    policy: outbound.Policy = field(default_factory=outbound.Policy)
    timeout: float = 60.0
    attempts: int = 4
    backoff: float = 0.5

    def __call__(self, items: list[dict[str, Any]]) -> list[list[dict[str, Any]] | ItemError]:
        return [self._one(item) for item in items]

    def _messages(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        text = item.get("text") or ""
        prompt = (
            self.prompt.replace("{reference_id}", item["reference_id"])
            .replace("{metadata}", json.dumps(item.get("metadata") or {}, sort_keys=True))
            .replace("{labels}", ", ".join(self.labels))
        )
        if "{text}" in prompt:
            prompt = prompt.replace("{text}", text)
        elif text:
            prompt = f"{prompt}\n\n{text}"
        content: list[dict[str, Any]] = [{"type": "text", "text": prompt}]
        if item.get("media") is not None:
            mime = filetype.guess_mime(item["media"]) or "application/octet-stream"
            encoded = base64.b64encode(item["media"]).decode("ascii")
            content.append(
                {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{encoded}"}}
            )
        system = ANSWER_FORMAT
        if self.labels:
            system += f" The label is one of: {', '.join(self.labels)}."
        return [{"role": "system", "content": system}, {"role": "user", "content": content}]

    def _one(self, item: dict[str, Any]) -> list[dict[str, Any]] | ItemError:
        if item.get("media") is None and not item.get("text"):
            return ItemError("the item has neither media nor text to send")
        body = json.dumps(
            {
                "model": self.model,
                "messages": self._messages(item),
                "temperature": 0,
                "response_format": {"type": "json_object"},
            }
        ).encode()
        status, answer = self._post(body)
        if status != 200:
            return ItemError(f"the endpoint answered HTTP {status}")
        return self._parse(answer)

    def _post(self, body: bytes) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        url = self.base_url.rstrip("/") + "/chat/completions"
        last = "no answer"
        for attempt in range(self.attempts):
            wait = self.backoff * 2**attempt
            try:
                fetched = outbound.fetch(
                    url,
                    policy=self.policy,
                    method="POST",
                    headers=headers,
                    body=body,
                    max_bytes=4 * 1024 * 1024,
                    max_redirects=0,
                    timeout=self.timeout,
                    field="runner.base_url",
                )
            except outbound.FetchFailed as error:  # a dropped connection, a timeout
                last = error.message
            else:
                if fetched.status_code != 429 and fetched.status_code < 500:
                    return fetched.status_code, fetched.content
                last = f"HTTP {fetched.status_code}"
                wait = max(wait, _retry_after(fetched.headers.get("retry-after")))
            if attempt + 1 < self.attempts:
                time.sleep(min(wait, 30.0))
        raise EndpointUnavailable(f"the model endpoint kept failing ({last})")

    def _parse(self, answer: bytes) -> list[dict[str, Any]] | ItemError:
        try:
            content = json.loads(answer)["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            return ItemError("the endpoint's answer is not a chat completion")
        if not isinstance(content, str):
            return ItemError("the completion has no text content")
        text = content.strip()
        fenced = _FENCE.match(text)
        if fenced:
            text = fenced.group(1)
        try:
            found = json.loads(text)
        except ValueError:
            return ItemError(f"the model's answer is not JSON: {content[:200]!r}")
        label = found.get("label") if isinstance(found, dict) else None
        if not isinstance(label, str) or not label.strip():
            return ItemError(f"the model's answer has no label: {content[:200]!r}")
        label = label.strip()
        if self.labels and label not in self.labels:
            return ItemError(f"the model answered {label!r}, not one of the labels")
        shape: dict[str, Any] = {"type": "category", "label": label}
        confidence = found.get("confidence")
        number = isinstance(confidence, int | float) and not isinstance(confidence, bool)
        if number and 0.0 <= confidence <= 1.0:
            shape["confidence"] = float(confidence)
        return checked_predictions([shape])


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 0.0
    except ValueError:
        return 0.0


# --- a hosted model's stored runner -----------------------------------------------------


def runner_config(runner_in: Any, *, secret_key: str) -> tuple[dict[str, Any], str | None]:
    """The runner to store for a `schemas.RunnerIn` (checked: a registered name, a usable
    endpoint URL) and its API key encrypted, or Invalid naming the field."""
    if runner_in.type == "python":
        if not runner_in.name:
            raise Invalid("a python runner needs the registered name", field="runner.name")
        get_model_runner(runner_in.name)
        return {"type": "python", "name": runner_in.name}, None
    if not runner_in.base_url:
        raise Invalid("an openai runner needs base_url", field="runner.base_url")
    if not runner_in.model:
        raise Invalid("an openai runner needs the model's name", field="runner.model")
    base_url = outbound.validate_url(runner_in.base_url, field="runner.base_url")
    config = {
        "type": "openai",
        "base_url": base_url,
        "model": runner_in.model,
        "prompt": runner_in.prompt or "Classify this item.",
        "labels": list(runner_in.labels),
    }
    key = runner_in.api_key.get_secret_value() if runner_in.api_key else None
    return config, (crypto.encrypt(secret_key, key) if key else None)


def build_runner(
    config: dict[str, Any], stored_key: str | None, *, settings: Any
) -> PythonRunner | OpenAIRunner:
    """The runner a hosted model's stored config describes, its key decrypted."""
    if config["type"] == "python":
        return PythonRunner(get_model_runner(config["name"]))
    return OpenAIRunner(
        base_url=config["base_url"],
        model=config["model"],
        prompt=config["prompt"],
        labels=tuple(config.get("labels") or ()),
        api_key=crypto.decrypt(settings.secret_key.get_secret_value(), stored_key)
        if stored_key
        else None,
        policy=outbound.Policy.from_settings(settings),
    )


def run_batch(work: tuple[Any, list[dict[str, Any]]]) -> list[list[dict[str, Any]] | ItemError]:
    """`(runner, items)` → the runner's answers: what an executor's worker runs."""
    runner, items = work
    return runner(items)
