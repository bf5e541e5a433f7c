"""Every fault a provider can throw at the studio, injected between the SDK and a real server,
comes out as the right `StudioError` with a plain message that says what to do next and no key."""

from __future__ import annotations

import time

import httpx2
import openai
import pytest

from lib.services import errors
from lib.services.errors import (
    AuthError,
    BadRequest,
    ConnectionFailed,
    JobFailed,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    StudioError,
    Timeout,
    TrainingNotAvailable,
    translate,
)
from lib.services.providers import ProviderConfig, make_client
from tests.plugins.faults import TEST_KEY, engine_api_key, engine_base_url, engine_or_skip


def assert_plain_error(err: BaseException, cls: type[StudioError], *phrases: str, key: str | None = None) -> StudioError:
    """The one shape every error has: the narrow class, one plain line, what to do next, no key."""
    assert isinstance(err, cls), f"{type(err).__name__}: {err}"
    message = err.message
    assert message == str(err)
    assert "\n" not in message and "Traceback" not in message
    assert "Error code:" not in message, "the SDK's raw text is not a message"
    assert message.endswith("."), message
    for phrase in phrases:
        assert phrase.lower() in message.lower(), f"{phrase!r} not in {message!r}"
    for text in (message, repr(err), str(err.to_dict()), err.detail or ""):
        for secret in filter(None, (key, TEST_KEY, "test-engine-key")):
            assert secret not in text
        assert "sk-test" not in text
    return err


# --- the upstream: the stub API always, the local engine when its fixtures are there -------------------


@pytest.fixture(params=["stub", "engine"])
def upstream(request) -> tuple[str, str]:
    """(base URL, API key) of the server behind the proxy."""
    if request.param == "stub":
        return request.getfixturevalue("stub_server").url, TEST_KEY
    server = engine_or_skip(request)
    return engine_base_url(server), engine_api_key(server) or TEST_KEY


@pytest.fixture
def proxy(upstream, make_fault_proxy):
    url, key = upstream
    proxy = make_fault_proxy(url)
    proxy.api_key = key
    return proxy


def client_for(proxy, *, timeout: float = 5.0, max_retries: int = 0) -> openai.OpenAI:
    config = ProviderConfig(kind="url", base_url=proxy.url, api_key=proxy.api_key, timeout=timeout,
                            max_retries=max_retries)
    return make_client(config)


def fault_of(call) -> StudioError:
    try:
        call()
    except openai.OpenAIError as exc:
        return translate(exc)
    raise AssertionError("no error was raised")


def test_proxy_forwards_when_no_fault_is_set(proxy):
    models = [m.id for m in client_for(proxy).models.list()]
    assert "tiny-random-llama" in models
    assert proxy.upstream_hits("/models") == 1


def test_401_says_the_key_was_refused(proxy):
    proxy.fail(401)
    err = fault_of(lambda: client_for(proxy).models.list())
    assert_plain_error(err, AuthError, "did not accept the API key", "Check the API key")
    assert err.status == 401 and not err.retryable


def test_403_training_not_available_explains_the_wind_down_and_offers_azure_and_local(proxy):
    proxy.fail(403, code="training_not_available", path="/fine_tuning/jobs$", method="POST")
    client = client_for(proxy)
    err = fault_of(lambda: client.fine_tuning.jobs.create(model="gpt-4.1-mini-2025-04-14", training_file="file-x"))
    assert_plain_error(
        err, TrainingNotAvailable, "winding down", "7 May 2026", "6 January 2027", "Azure OpenAI", "local engine",
        "dataset is kept",
    )
    assert isinstance(err, PermissionDenied)  # callers catching the broad 403 get it too
    assert err.code == "training_not_available"
    assert err.alternatives == ("azure", "local")
    assert "winding down the fine-tuning platform" in err.detail  # OpenAI's own words kept for details


def test_other_403_is_permission_denied(proxy):
    proxy.fail(403)
    err = fault_of(lambda: client_for(proxy).models.list())
    assert_plain_error(err, PermissionDenied, "refused", "ask the account owner")
    assert not isinstance(err, TrainingNotAvailable)


def test_404_names_what_was_not_found(proxy):
    proxy.fail(404, path="/fine_tuning/jobs/")
    err = fault_of(lambda: client_for(proxy).fine_tuning.jobs.retrieve("ftjob-missing"))
    assert_plain_error(err, NotFound, "fine-tuning job ftjob-missing", "another provider")


def test_404_for_a_model(proxy):
    proxy.fail(404)
    err = fault_of(lambda: client_for(proxy).models.retrieve("gpt-nope"))
    assert_plain_error(err, NotFound, "model gpt-nope", "pick one from the model list")


def test_429_is_retried_by_the_sdk_honouring_retry_after(proxy):
    proxy.fail(429, retry_after=1, times=1, path="/models")
    client = client_for(proxy, max_retries=2)
    started = time.monotonic()
    models = [m.id for m in client.models.list()]
    elapsed = time.monotonic() - started
    assert "tiny-random-llama" in models
    assert proxy.hits("/models") == 2  # the 429, then the retry
    assert proxy.upstream_hits("/models") == 1  # only the retry reached the server
    assert elapsed >= 1.0  # the SDK waited as Retry-After asked


def test_429_when_retries_run_out_says_how_long_to_wait(proxy):
    proxy.fail(429, retry_after=7)
    err = fault_of(lambda: client_for(proxy, max_retries=0).models.list())
    assert_plain_error(err, RateLimited, "too many requests", "wait 7 s", "nothing was lost")
    assert err.retryable and err.retry_after == 7.0


def test_429_insufficient_quota_is_not_retryable(proxy):
    proxy.fail(429, code="insufficient_quota", message="You exceeded your current quota")
    err = fault_of(lambda: client_for(proxy).models.list())
    assert_plain_error(err, RateLimited, "run out of credit")
    assert not err.retryable


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_is_retried_then_reported_as_a_server_error(proxy, status):
    proxy.fail(status, headers={"retry-after-ms": "10"})
    err = fault_of(lambda: client_for(proxy, max_retries=2).models.list())
    assert_plain_error(err, ServerError, f"({status})", "nothing was lost", "try again")
    assert err.retryable
    assert proxy.hits("/models") == 3  # the first try and two retries
    assert proxy.upstream_hits("/models") == 0


def test_a_reply_slower_than_the_timeout_is_a_timeout(proxy):
    proxy.delay(3.0)
    started = time.monotonic()
    err = fault_of(lambda: client_for(proxy, timeout=0.5).models.list())
    assert time.monotonic() - started < 2.5
    assert_plain_error(err, Timeout, "did not answer within 0.5 s", "try again")
    assert err.retryable


def test_connection_refused_asks_whether_the_engine_runs(proxy):
    client = client_for(proxy)
    proxy.close()
    err = fault_of(lambda: client.models.list())
    assert_plain_error(err, ConnectionFailed, "Could not reach the local engine", "is the engine running?",
                       "python -m lib engine")
    assert err.retryable


def test_a_dropped_connection_is_a_connection_failure(proxy):
    proxy.disconnect()
    err = fault_of(lambda: client_for(proxy).models.list())
    assert_plain_error(err, ConnectionFailed, "Could not reach")


def test_400_keeps_the_services_message_and_field(proxy):
    proxy.fail(400, message="Invalid value for 'suffix': too long.")
    err = fault_of(lambda: client_for(proxy).models.list())
    assert_plain_error(err, BadRequest, "refused the request", "Invalid value for 'suffix': too long", "(field: suffix)")
    assert err.param == "suffix"


# --- translate() without a network ----------------------------------------------------------------------


def _status_error(status: int, body: dict, url: str, headers: dict | None = None) -> openai.APIStatusError:
    request = httpx2.Request("GET", url)
    response = httpx2.Response(status, request=request, json={"error": body}, headers=headers or {})
    client = openai.OpenAI(api_key="x", base_url="http://127.0.0.1:1/v1")
    return client._make_status_error(f"Error code: {status} - {body}", body={"error": body}, response=response)


@pytest.mark.parametrize(
    ("url", "headers", "who"),
    [
        ("https://api.openai.com/v1/models", {}, "OpenAI"),
        ("https://res.openai.azure.com/openai/models?api-version=2024-10-21", {}, "Azure OpenAI"),
        ("http://127.0.0.1:8765/v1/models", {errors.ENGINE_HEADER: "1"}, "The local engine"),
        # Another server on this machine (vLLM, Ollama) is not the engine: it is named by its address.
        ("http://127.0.0.1:8000/v1/models", {}, "The server at http://127.0.0.1:8000"),
        ("https://gpu.example.org/v1/models", {}, "The server at https://gpu.example.org"),
    ],
)
def test_messages_name_the_provider(url, headers, who):
    err = translate(_status_error(500, {"message": "boom"}, url, headers))
    assert err.message.startswith(who)


def test_401_hints_name_the_right_setting_per_provider():
    openai_err = translate(_status_error(401, {"message": "bad"}, "https://api.openai.com/v1/models"))
    azure_err = translate(_status_error(401, {"message": "bad"}, "https://r.openai.azure.com/openai/models"))
    engine_err = translate(_status_error(401, {"message": "bad"}, "http://127.0.0.1:8765/v1/models",
                                         {errors.ENGINE_HEADER: "1"}))
    assert "OPENAI_API_KEY" in openai_err.message
    assert "AZURE_OPENAI_API_KEY" in azure_err.message
    assert "FTS_ENGINE_KEY" in engine_err.message


def test_translate_passes_studio_errors_through_and_wraps_the_unknown():
    err = BadRequest("Already plain.")
    assert translate(err) is err
    other = translate(RuntimeError("odd"))
    assert type(other) is StudioError and "RuntimeError: odd" in other.message


def test_retry_after_as_an_http_date():
    when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    err = translate(_status_error(429, {"message": "slow down"}, "https://api.openai.com/v1/models", {"Retry-After": when}))
    assert isinstance(err, RateLimited) and 25 <= err.retry_after <= 31


# --- keys never appear -------------------------------------------------------------------------------


def test_openai_key_shapes_are_scrubbed():
    text = "Incorrect API key provided: sk-proj-abc123DEF456ghi789. Also sk-abc***********wxyz and Bearer abcdefgh12345678."
    clean = errors.scrub(text)
    assert "sk-proj" not in clean and "abc123" not in clean and "wxyz" not in clean and "abcdefgh1234" not in clean
    assert clean.count(errors.REDACTED) == 3


def test_the_configured_key_itself_is_scrubbed_even_without_a_key_shape():
    azure_key = "0123456789abcdef0123456789abcdef"
    ProviderConfig(kind="azure", api_key=azure_key, azure_endpoint="https://r.openai.azure.com/")
    err = StudioError(f"Something echoed {azure_key} back")
    assert azure_key not in err.message and errors.REDACTED in err.message
    assert azure_key not in errors.scrub(f"api_key={azure_key}")


def test_a_short_key_is_scrubbed_as_a_word_and_leaves_other_words_whole():
    errors.remember_secret("other")
    assert errors.scrub("key other; it may belong to another provider") == \
        f"key {errors.REDACTED}; it may belong to another provider"


def test_a_key_echoed_by_the_server_never_reaches_the_message():
    secret = "sk-live-SECRET0000000000000000"
    body = {"message": f"Incorrect API key provided: {secret}", "code": "invalid_api_key"}
    err = translate(_status_error(400, body, "https://api.openai.com/v1/models"))
    assert secret not in err.message and secret not in (err.detail or "") and secret not in repr(err)


# --- failed jobs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("Line 3: missing assistant message", [3]),
        ("Invalid file format. Lines 4, 7 and 9 have no messages", [4, 7, 9]),
        ("Examples 2-4 are too long", [2, 3, 4]),
        ("Rows 12 & 15 are duplicates; line 1 too", [1, 12, 15]),
        ("The job failed due to an unknown error", []),
    ],
)
def test_lines_named(text, lines):
    assert errors.lines_named(text) == lines


def test_job_failed_shows_the_error_and_the_lines_it_names():
    job = {
        "status": "failed",
        "error": {
            "code": "invalid_training_file",
            "message": "Training file has 2 invalid examples: line 3 has no assistant message, line 7 is not JSON.",
            "param": "training_file",
        },
    }
    err = JobFailed.from_job(job)
    assert_plain_error(err, JobFailed, "The fine-tuning job failed", "line 3 has no assistant message",
                       "Fix lines 3, 7 of the training data")
    assert err.lines == [3, 7] and err.code == "invalid_training_file" and err.param == "training_file"
    assert err.to_dict()["lines"] == [3, 7]


def test_job_failed_without_details():
    err = JobFailed.from_job({"status": "failed", "error": None})
    assert_plain_error(err, JobFailed, "failed without saying why")
    assert err.lines == []


def test_no_key_in_the_logs_either(proxy, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    proxy.fail(401, retry_after=0, times=1)
    err = fault_of(lambda: client_for(proxy, max_retries=1).models.retrieve("tiny-random-llama"))
    assert isinstance(err, AuthError)
    assert caplog.records  # the SDK did log the request
    assert proxy.api_key not in caplog.text


def test_an_azure_deployment_that_does_not_exist_explains_the_deployment_step():
    url = "https://r.openai.azure.com/openai/deployments/limerick-bot/chat/completions?api-version=2024-10-21"
    err = translate(_status_error(404, {"message": "The API deployment for this resource does not exist.",
                                        "code": "DeploymentNotFound"}, url))
    assert_plain_error(err, NotFound, "Azure OpenAI has no deployment limerick-bot", "deploy the fine-tuned model in Azure")
