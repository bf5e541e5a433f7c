"""lib.engine.process: the app uses only an engine it can prove it started; anything else answering on
the port gets nothing (no key, no data), and the engine it starts gets a fresh secret and its own key."""

from __future__ import annotations

import pytest

from lib.engine import process
from tests.plugins.fake_engine import FakeEngine

USER_KEY = "sk-proj-user0penAIke" + "y0000000000000000000000"  # made up, split so no key scanner takes it for a real one


@pytest.fixture(autouse=True)
def _forget_started_engines(monkeypatch):
    monkeypatch.setattr(process, "_STARTED", {})


class FakePopen:
    """Stands in for the engine's process: records its command and environment, and serves /health on
    the port it was told, holding the secret it was given (as the real engine does)."""

    def __init__(self, command, *, env, **kwargs):
        self.command, self.env, self.returncode = command, env, None
        self.server = FakeEngine(secret=env.get(process.SECRET_ENV), port=int(command[command.index("--port") + 1]))

    def poll(self):
        return self.returncode

    def terminate(self):
        self.server.close()
        self.returncode = 0

    def wait(self, timeout=None):
        return self.returncode

    kill = terminate


@pytest.fixture
def launched(monkeypatch) -> list[FakePopen]:
    started: list[FakePopen] = []

    def popen(command, **kwargs):
        started.append(FakePopen(command, **kwargs))
        return started[-1]

    monkeypatch.setattr(process.subprocess, "Popen", popen)
    yield started
    for fake in started:
        fake.terminate()


def test_something_else_answering_on_the_port_gets_no_key_and_is_named(fake_engine, launched, tmp_path):
    with pytest.raises(process.EngineNotProven) as err:
        process.ensure_running(port=fake_engine.port, data_dir=tmp_path, api_key=USER_KEY)
    message = str(err.value)
    assert message.startswith(f"Something else is answering on 127.0.0.1:{fake_engine.port} and could not prove "
                              "it is the studio's engine (a server that calls itself an engine, version 9.9-fake")
    assert fake_engine.seen and fake_engine.authorizations() == []
    assert USER_KEY not in message
    assert launched == []  # and no second engine was started beside it


def test_a_web_server_that_is_no_engine_is_named_as_such():
    with FakeEngine() as server:  # its /x/health is a 404, as on any other web server
        assert process.what_answers(server.url + "/x") == "a web server that answered HTTP 404 to /health"


def test_the_engine_it_starts_gets_a_fresh_secret_and_the_given_key_by_environment_only(launched, tmp_path,
                                                                                        monkeypatch):
    monkeypatch.setenv("FTS_ENGINE_API_KEY", USER_KEY)  # inherited from the user's shell: not passed on
    port = process.free_port()
    handle = process.ensure_running(port=port, data_dir=tmp_path, api_key="app-made-engine-key")
    (child,) = launched
    secret = child.env[process.SECRET_ENV]
    assert len(secret) >= 32 and handle.secret == secret and handle.started
    assert child.env["FTS_ENGINE_API_KEY"] == "app-made-engine-key"
    assert not any(secret in part or "app-made" in part for part in child.command)  # `ps` shows neither
    assert process.proves(handle.root_url, secret) and not process.proves(handle.root_url, "another secret")
    assert any("challenge=" in path for _, path, _ in child.server.seen)
    assert child.server.authorizations() == []  # proving needs no key
    # Asked again, the app reuses the engine it started instead of starting another.
    assert process.ensure_running(port=port, data_dir=tmp_path) is handle and len(launched) == 1
    handle.stop()
    assert process._STARTED == {}


def test_a_recorded_proof_does_not_prove_a_new_challenge():
    with FakeEngine(secret="the real secret") as server:
        assert process.proves(server.url, "the real secret")
        assert not process.proves(server.url, "a guess")
    with FakeEngine() as impostor:  # answers health, no proof at all
        assert not process.proves(impostor.url, "the real secret")


def test_nothing_listening_is_not_something_answering():
    assert process.what_answers(f"http://127.0.0.1:{process.free_port()}") is None


def test_a_command_in_another_terminal_proves_the_engine_the_app_started(launched, tmp_path, monkeypatch):
    port = process.free_port()
    started = process.ensure_running(port=port, data_dir=tmp_path)
    monkeypatch.setattr(process, "_STARTED", {})  # another process: it knows only the files of this user
    found = process.ensure_running(port=port, data_dir=tmp_path)
    assert not found.started and len(launched) == 1
    assert found.api_key == started.api_key == process.engine_key(started.secret)
    assert (tmp_path / process.SECRET_FILE).stat().st_mode & 0o777 == 0o600


def test_a_secret_file_others_can_read_proves_nothing(launched, tmp_path, monkeypatch):
    port = process.free_port()
    process.ensure_running(port=port, data_dir=tmp_path)
    (tmp_path / process.SECRET_FILE).chmod(0o644)
    monkeypatch.setattr(process, "_STARTED", {})
    with pytest.raises(process.EngineNotProven):
        process.ensure_running(port=port, data_dir=tmp_path)
