"""Providers: settings without the key, one client factory, one connection test, what can be trained."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import pickle
import types

import openai
import pytest

from lib.services import errors, providers
from lib.services.providers import (
    ConnectionResult,
    Provider,
    ProviderConfig,
    config_from_env,
    default_config,
    make_client,
    model_for_inference,
    test_connection,
    trainable_models,
)
from tests.plugins.faults import TEST_KEY, StubJob

SECRET = "sk-proj-NEVERSHOWTHIS0123456789"


# --- the key stays in memory ------------------------------------------------------------------------


def test_the_key_is_usable_but_never_shown_or_saved():
    config = ProviderConfig(kind="openai", api_key=SECRET)
    assert config.api_key == SECRET and config.has_key
    for text in (
        repr(config),
        str(config),
        json.dumps(config.to_dict()),
        str(dataclasses.asdict(config)),
        json.dumps(config.redacted()),
        config.describe(),
        config.fingerprint(),
    ):
        assert SECRET not in text
    assert config.redacted()["api_key"] == "set (hidden)"
    assert "api_key" not in config.to_dict()


def test_a_pickled_config_leaves_the_key_behind_but_copies_keep_it():
    config = ProviderConfig(kind="openai", api_key=SECRET)
    assert SECRET.encode() not in pickle.dumps(config)
    assert pickle.loads(pickle.dumps(config)).api_key is None
    assert copy.copy(config).api_key == SECRET
    assert copy.deepcopy(config).api_key == SECRET
    assert dataclasses.replace(config, timeout=5).api_key == SECRET


def test_round_trip_through_to_dict_needs_the_key_again():
    config = ProviderConfig(kind="azure", api_key=SECRET, azure_endpoint="https://r.openai.azure.com/",
                            deployments={"ft:gpt-4o-mini:x": "limericks"}, timeout=30)
    again = ProviderConfig.from_dict(config.to_dict(), api_key=SECRET)
    assert again == config
    assert ProviderConfig.from_dict(config.to_dict()) != config  # no key, not the same
    assert config.fingerprint() != ProviderConfig.from_dict(config.to_dict(), api_key="other").fingerprint()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "nope"}, "Unknown provider 'nope'"),
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"max_retries": -1}, "max_retries must be 0 or more"),
    ],
)
def test_settings_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ProviderConfig(**kwargs)


# --- which provider to start with ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "kind"),
    [
        ({}, "local"),
        ({"OPENAI_API_KEY": SECRET}, "openai"),
        ({"OPENAI_API_KEY": SECRET, "OPENAI_BASE_URL": "https://gpu.example.org/v1"}, "url"),
        ({"OPENAI_API_KEY": SECRET, "OPENAI_BASE_URL": "https://api.openai.com/v1"}, "openai"),
        ({"AZURE_OPENAI_API_KEY": "k" * 32, "AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com/"}, "azure"),
        ({"FTS_ENGINE_URL": "http://10.0.0.5:8765"}, "local"),
    ],
)
def test_default_config_follows_the_environment(env, kind):
    assert default_config(env).kind == kind


def test_config_from_env_reads_the_usual_variables_and_explicit_values_win():
    env = {
        "AZURE_OPENAI_API_KEY": "azkey-1234567890",
        "AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com/",
        "OPENAI_API_VERSION": "2025-01-01-preview",
        "FTS_ENGINE_URL": "http://127.0.0.1:9999",
        "FTS_ENGINE_KEY": "engine-key-123",
    }
    azure = config_from_env("azure", env)
    assert (azure.api_key, azure.azure_endpoint, azure.api_version) == (
        "azkey-1234567890", "https://r.openai.azure.com/", "2025-01-01-preview")
    local = config_from_env("local", env)
    assert (local.base_url, local.api_key) == ("http://127.0.0.1:9999", "engine-key-123")
    override = config_from_env("local", env, base_url="http://127.0.0.1:1234/v1", api_key=None)
    assert override.base_url == "http://127.0.0.1:1234/v1" and override.api_key == "engine-key-123"


# --- one client factory ---------------------------------------------------------------------------------


def test_openai_client(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "https://elsewhere.example/v1")
    client = make_client(ProviderConfig(kind="openai", api_key=SECRET, timeout=12, max_retries=4))
    assert isinstance(client, openai.OpenAI) and not isinstance(client, openai.AzureOpenAI)
    assert str(client.base_url) == "https://api.openai.com/v1/"  # explicit beats the environment
    assert client.timeout == 12 and client.max_retries == 4


def test_azure_client_and_its_v1_form():
    client = make_client(ProviderConfig(kind="azure", api_key="k" * 32, azure_endpoint="https://r.openai.azure.com/"))
    assert isinstance(client, openai.AzureOpenAI)
    assert str(client.base_url) == "https://r.openai.azure.com/openai/"
    assert client._api_version == providers.AZURE_API_VERSION
    v1 = make_client(ProviderConfig(kind="azure", api_key="k" * 32, base_url="https://r.openai.azure.com/openai/v1/"))
    assert type(v1) is openai.OpenAI and str(v1.base_url) == "https://r.openai.azure.com/openai/v1/"


@pytest.mark.parametrize(
    ("config", "phrase"),
    [
        (ProviderConfig(kind="openai"), "OPENAI_API_KEY"),
        (ProviderConfig(kind="azure", azure_endpoint="https://r.openai.azure.com/"), "AZURE_OPENAI_API_KEY"),
        (ProviderConfig(kind="azure", api_key="k" * 32), "AZURE_OPENAI_ENDPOINT"),
        (ProviderConfig(kind="url"), "base URL"),
    ],
)
def test_a_missing_setting_says_where_to_give_it(config, phrase):
    with pytest.raises(errors.MissingSetting, match=phrase):
        make_client(config)


def test_a_bare_server_address_gets_v1():
    assert str(make_client(ProviderConfig(kind="url", base_url="http://gpu.example.org:8000")).base_url) == (
        "http://gpu.example.org:8000/v1/")
    assert str(make_client(ProviderConfig(kind="url", base_url="https://gw.example.org/openai")).base_url) == (
        "https://gw.example.org/openai/")


def test_other_providers_never_receive_the_openai_key_from_the_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    local = make_client(ProviderConfig(kind="local", base_url="http://127.0.0.1:8765"))
    assert local.api_key != SECRET and str(local.base_url) == "http://127.0.0.1:8765/v1/"


def test_local_starts_the_engine_through_its_helper_when_no_address_is_set(monkeypatch, studio_home):
    calls = []

    class Handle:
        base_url = "http://127.0.0.1:8765"
        started = True
        api_key = "key-from-the-engine-secret"

        def stop(self):
            calls.append("stop")

    def ensure_running(host, port, data_dir, api_key=None):
        calls.append((host, port, str(data_dir), api_key))
        return Handle()

    fake = types.ModuleType("lib.engine.process")
    fake.ensure_running = ensure_running
    monkeypatch.setattr(providers, "engine_process", fake)
    client = make_client(ProviderConfig(kind="local", api_key="engine-key-1"))
    assert str(client.base_url) == "http://127.0.0.1:8765/v1/"
    # The engine it starts makes its own key from its secret; the key typed for another provider is not sent.
    assert calls == [("127.0.0.1", 8765, str(studio_home / "engine"), None)]
    assert client.api_key == "key-from-the-engine-secret"
    assert providers.local_engine_handle().started


def test_an_engine_that_will_not_start_is_a_plain_connection_failure(monkeypatch):
    fake = types.ModuleType("lib.engine.process")

    def ensure_running(**kwargs):
        raise RuntimeError("port 8765 is taken by another program")

    fake.ensure_running = ensure_running
    monkeypatch.setattr(providers, "engine_process", fake)
    result = test_connection(ProviderConfig(kind="local"))
    assert not result.ok and "did not start (port 8765 is taken" in result.message
    assert isinstance(result.error, errors.ConnectionFailed)


# --- one connection test --------------------------------------------------------------------------------


def test_connection_ok_lists_the_models(stub_server):
    result = test_connection(ProviderConfig(kind="url", base_url=stub_server.url, api_key=TEST_KEY))
    assert result == ConnectionResult(True, f"Connected to the server at {stub_server.url}: 2 models available.",
                                      ["HuggingFaceTB/SmolLM2-135M-Instruct", "tiny-random-llama"])


def test_connection_to_nothing_says_what_to_do(make_fault_proxy, stub_server):
    proxy = make_fault_proxy(stub_server.url)
    proxy.close()
    result = test_connection(ProviderConfig(kind="local", base_url=proxy.url, max_retries=0))
    assert not result.ok and result.models == []
    assert result.message.startswith("Could not reach the local engine at http://127.0.0.1:")
    assert "python -m lib engine" in result.message


def test_connection_with_a_wrong_key(make_fault_proxy, stub_server):
    proxy = make_fault_proxy(stub_server.url)
    proxy.fail(401)
    result = test_connection(ProviderConfig(kind="url", base_url=proxy.url, api_key=SECRET, max_retries=0))
    assert not result.ok and isinstance(result.error, errors.AuthError)
    assert SECRET not in result.message and "did not accept the API key" in result.message


# --- inference names -------------------------------------------------------------------------------------


def test_model_for_inference_uses_the_azure_deployment():
    azure = ProviderConfig(kind="azure", api_key="k" * 32, azure_endpoint="https://r.openai.azure.com/",
                           deployments={"ft:gpt-4o-mini-2024-07-18:org::abc": "limerick-bot"})
    assert model_for_inference(azure, "ft:gpt-4o-mini-2024-07-18:org::abc") == "limerick-bot"
    assert model_for_inference(azure, "limerick-bot") == "limerick-bot"
    with pytest.raises(errors.MissingSetting, match="deploying happens in Azure"):
        model_for_inference(azure, "gpt-4o-mini-2024-07-18")
    assert model_for_inference(ProviderConfig(kind="openai", api_key=SECRET), "ft:x") == "ft:x"


# --- the registry ------------------------------------------------------------------------------------------


def test_an_outside_provider_registers_like_the_built_in_ones(monkeypatch, stub_client):
    class Mine(Provider):
        kind = "mine"
        label = "my server"

        def make_client(self, config):
            return stub_client

        def model_for_inference(self, config, model_id):
            return model_id.upper()

    monkeypatch.setitem(providers.PROVIDERS, "mine", Mine())
    config = ProviderConfig(kind="mine")
    assert make_client(config) is stub_client
    assert model_for_inference(config, "abc") == "ABC"
    assert test_connection(config).ok
    assert [m.id for m in trainable_models(config)] == ["HuggingFaceTB/SmolLM2-135M-Instruct", "tiny-random-llama"]
    assert set(providers.PROVIDERS) >= {"local", "openai", "azure", "url", "mine"}


# --- what can be trained now ----------------------------------------------------------------------------------


def test_openai_trainable_models_follow_the_wind_down():
    config = ProviderConfig(kind="openai", api_key=SECRET)
    before = {m.id: m for m in trainable_models(config, dt.date(2026, 11, 24))}
    assert before["gpt-4.1-mini-2025-04-14"].trainable
    assert "until 2027-01-05" in before["gpt-4.1-mini-2025-04-14"].reason
    assert not before["gpt-3.5-turbo-0125"].trainable and "shut down" in before["gpt-3.5-turbo-0125"].reason
    assert not before["o4-mini-2025-04-16"].trainable
    assert "tiny-random-llama" not in before  # local-engine rows are not OpenAI's
    after = trainable_models(config, dt.date(2027, 1, 6))
    assert after and not any(m.trainable for m in after)
    assert list(before)[0] == "gpt-4.1-2025-04-14"  # trainable ones first


def test_azure_trainable_models_are_not_hit_by_openais_wind_down():
    config = ProviderConfig(kind="azure", api_key="k" * 32, azure_endpoint="https://r.openai.azure.com/")
    found = {m.id: m for m in trainable_models(config, dt.date(2027, 3, 1))}
    assert found["gpt-4.1-mini-2025-04-14"].trainable and "Sweden Central" in found["gpt-4.1-mini-2025-04-14"].reason
    assert found["gpt-4o-mini-2024-07-18"].methods == ("supervised", "dpo")


def test_local_trainable_models_come_from_the_engine(stub_api, stub_server):
    # A fine-tuned model in the engine's list is not offered as a base to train.
    stub_api.jobs["ftjob-done"] = StubJob({"fine_tuned_model": "ft:tiny-random-llama:local::abc"})
    config = ProviderConfig(kind="local", base_url=stub_server.url)
    found = trainable_models(config)
    assert [m.id for m in found] == ["HuggingFaceTB/SmolLM2-135M-Instruct", "tiny-random-llama"]
    assert all(m.trainable for m in found)
    assert "tests only" in found[1].label


def test_training_time_comes_from_the_configured_engine_not_this_computer(engine_in_process, studio_home):
    # A team's engine (FTS_ENGINE_URL) has trained before; this computer's engine folder has never trained.
    from lib.engine.models import DEFAULT_MODEL
    from lib.engine.store import Store

    Store(engine_in_process.engine.settings.data_dir).add_run(
        "ftjob-team", DEFAULT_MODEL, "cuda:H100", tokens=100_000, examples=100, steps=100, seconds=10.0,
        overhead_seconds=4.0)
    config = providers.config_from_env("local", {"FTS_ENGINE_URL": engine_in_process.base_url})
    guess = providers.training_time(config, model=DEFAULT_MODEL, tokens=870, examples=10, epochs=10)
    assert guess["basis"] == "last 1 job" and guess["tokens_per_second"] == 10_000.0
    assert guess["seconds"] == pytest.approx(4.0 + 8_700 / 10_000, abs=0.1)
    assert not (studio_home / "engine" / "engine.sqlite3").exists()  # this computer's engine was never read


def test_training_time_from_an_engine_that_does_not_answer_is_a_plain_error():
    config = ProviderConfig(kind="local", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(errors.StudioError) as caught:
        providers.training_time(config, model="tiny-random-llama", tokens=10, examples=10)
    assert "local engine" in caught.value.message
    with pytest.raises(errors.NotSupported):
        providers.training_time(ProviderConfig(kind="openai", api_key=SECRET), model="gpt-4.1-mini", tokens=1,
                                examples=10)


def test_a_key_typed_for_openai_never_reaches_whatever_answers_on_the_local_engines_port(fake_engine, monkeypatch):
    monkeypatch.setattr(providers, "LOCAL_PORT", fake_engine.port)
    monkeypatch.setattr(providers.engine_process, "_STARTED", {})
    local = ProviderConfig(kind="local", api_key=SECRET)  # the key the user typed under OpenAI
    with pytest.raises(errors.UntrustedEngine) as err:
        make_client(local)
    assert f"127.0.0.1:{fake_engine.port} and could not prove it is the studio's engine" in err.value.message
    assert err.value.address == fake_engine.url
    result = test_connection(local)
    assert not result.ok and isinstance(result.error, errors.UntrustedEngine)
    assert fake_engine.authorizations() == []
    # Trusted by the user (by URL, for this session): it gets the key configured for it, and only that.
    trusted = ProviderConfig(kind="local", base_url=fake_engine.url, api_key="engine-key-for-it")
    assert test_connection(trusted).ok
    assert fake_engine.authorizations() == ["Bearer engine-key-for-it"]
