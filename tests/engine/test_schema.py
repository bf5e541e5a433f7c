"""Every JSON answer of the engine, driven through the openai SDK, checked against OpenAI's own OpenAPI
schemas (tests/data/openai_schemas.json, cut from openai/openai-openapi 2.3.0; see its extract script)."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

import openai
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.plugins.engine import TINY, chat_examples, write_jsonl


def as_json_schema(node):
    """OpenAI's document is OpenAPI 3.1 but keeps two OpenAPI 3.0 spellings; say them in JSON Schema 2020-12:
    `exclusiveMinimum: true` + `minimum: m` is `exclusiveMinimum: m`, and `nullable: true` also allows null."""
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: as_json_schema(value) for key, value in node.items()}
    if node.get("exclusiveMinimum") is True:
        node["exclusiveMinimum"] = node.pop("minimum")
    if node.pop("nullable", False) and "type" in node:
        node["type"] = [node["type"], "null"] if isinstance(node["type"], str) else [*node["type"], "null"]
    return node


SCHEMAS = as_json_schema(json.loads((Path(__file__).parents[1] / "data" / "openai_schemas.json").read_text()))
REGISTRY = Registry().with_resource("urn:openai", Resource.from_contents(SCHEMAS, default_specification=DRAFT202012))
ROUTES = [(method, re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), name)
          for method, path, name in (key.split(" ") + [value] for key, value in SCHEMAS["responses"].items())]


def schema_for(method: str, path: str, status: int) -> str | None:
    """The name of OpenAI's schema for this answer; None for a route OpenAI does not have."""
    if status >= 400:
        return "ErrorResponse"
    path = path.removeprefix("/v1")
    names = [name for m, pattern, name in ROUTES if m == method and pattern.match(path)]
    return names[0] if names else None


def problems(name: str, body) -> list[str]:
    validator = Draft202012Validator({"$ref": f"urn:openai#/components/schemas/{name}"}, registry=REGISTRY)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in validator.iter_errors(body)]


class Recorder:
    """An httpx event hook that keeps every JSON answer the SDK receives."""

    def __init__(self):
        self.answers: list[tuple[str, str, int, object]] = []

    def __call__(self, response) -> None:
        response.read()
        if response.headers.get("content-type", "").startswith("application/json"):
            request = response.request
            self.answers.append((request.method, request.url.path, response.status_code, response.json()))


def wait_until_finished(client, job_id: str, timeout: float = 180):
    deadline = time.monotonic() + timeout
    while (job := client.fine_tuning.jobs.retrieve(job_id)).status not in ("succeeded", "failed", "cancelled"):
        assert time.monotonic() < deadline, f"job still {job.status}"
        time.sleep(0.5)
    return job


@pytest.fixture(scope="module")
def recorded(engine_server, tmp_path_factory):
    """One pass over every route the studio uses, through the SDK, recording each JSON answer."""
    recorder = Recorder()
    client = engine_server.client(http_client=openai.DefaultHttpxClient(event_hooks={"response": [recorder]}))
    folder = tmp_path_factory.mktemp("schema")
    client.models.list()
    client.models.retrieve(TINY)
    with write_jsonl(folder / "train.jsonl", chat_examples(10)).open("rb") as handle:
        training = client.files.create(file=handle, purpose="fine-tune")
    client.files.list()
    client.files.retrieve(training.id)
    job = client.fine_tuning.jobs.create(model=TINY, training_file=training.id, suffix="schema",
                                         hyperparameters={"n_epochs": 2})
    other = client.fine_tuning.jobs.create(model=TINY, training_file=training.id, hyperparameters={"n_epochs": 50})
    cancelled = client.fine_tuning.jobs.cancel(other.id)
    job = wait_until_finished(client, job.id)
    assert job.status == "succeeded", job.error
    client.fine_tuning.jobs.list()
    events = client.fine_tuning.jobs.list_events(job.id, limit=5)
    client.fine_tuning.jobs.list_events(job.id, after=events.data[-1].id)
    checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id)
    for model in (TINY, job.fine_tuned_model):
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Tell me about Neon"}],
                                       max_tokens=5)
    client.models.retrieve(job.fine_tuned_model)
    with pytest.raises(openai.ConflictError):
        client.fine_tuning.jobs.cancel(job.id)
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve("file-nothing")
    client.models.delete(job.fine_tuned_model)
    client.files.delete(training.id)
    return {"client": client, "answers": recorder.answers, "job": job, "cancelled": cancelled,
            "checkpoints": checkpoints}


def test_every_engine_answer_matches_openais_schema(recorded):
    answers = recorded["answers"]
    checked, mismatches = 0, []
    for method, path, status, body in answers:
        name = schema_for(method, path, status)
        if name is None:
            continue
        checked += 1
        found = problems(name, body)
        if found:
            mismatches.append(f"{method} {path} ({status}, {name}): {'; '.join(found)}")
    assert checked >= 20, f"only {checked} answers checked"
    assert mismatches == [], f"{len(mismatches)} of {checked} answers do not match:\n" + "\n".join(mismatches)


def test_file_objects_leave_out_empty_expiry_and_details_instead_of_null(recorded):
    files = [body for method, path, status, body in recorded["answers"]
             if path.removeprefix("/v1").startswith("/files") and status == 200 and body.get("object") == "file"]
    assert files
    for body in files:
        assert "expires_at" not in body and "status_details" not in body


def test_every_answer_carries_a_request_id_the_sdk_shows(recorded):
    client = recorded["client"]
    first, second = client.models.list(), client.models.retrieve(TINY)
    assert first._request_id.startswith("req_") and second._request_id.startswith("req_")
    assert first._request_id != second._request_id
    with pytest.raises(openai.NotFoundError) as caught:
        client.fine_tuning.jobs.retrieve("ftjob-nothing")
    assert caught.value.request_id.startswith("req_")


def test_an_unknown_events_cursor_returns_nothing_like_the_other_lists(recorded):
    client, job = recorded["client"], recorded["job"]
    assert client.fine_tuning.jobs.list_events(job.id, after="ftevent-unknown").data == []
    assert client.fine_tuning.jobs.list(after="ftjob-unknown").data == []
    assert client.files.list(after="file-unknown").data == []


def test_an_invalid_json_body_names_no_parameter(engine_server):
    request = urllib.request.Request(engine_server.base_url + "/fine_tuning/jobs", data=b'{"model": ', method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {engine_server.api_key}"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request)
    assert caught.value.code == 400
    error = json.loads(caught.value.read())["error"]
    assert error["code"] == "invalid_json" and error["param"] is None
