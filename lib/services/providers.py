"""Where training and inference run: OpenAI, Azure OpenAI, any OpenAI-compatible URL, or the local engine.

Every provider is reached through the official `openai` SDK, so the rest of the studio has one code
path. `ProviderConfig` says which provider and how to reach it; `make_client(config)` is the one
client factory; `test_connection(config)` is the one connection test. Providers live in a small
registry (`PROVIDERS`, `register`), and the four built-in ones register exactly as an outside one
would:

    class MyProvider(Provider):
        kind = "mine"; label = "My server"
        def make_client(self, config): ...
    register(MyProvider())

The API key lives in memory only: it is not a dataclass field, so it never appears in `repr`,
`asdict`, `to_dict`, pickles or error messages (see `lib.services.errors.scrub`).
"""

from __future__ import annotations

import atexit
import copy
import datetime as dt
import hashlib
import importlib
import os
from collections.abc import Mapping
from dataclasses import InitVar, asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from lib import paths
from lib.engine import process as engine_process
from lib.engine.models import DEFAULT_MODEL
from lib.engine.process import EngineNotProven
from lib.engine.protocol import THIS_COMPUTER, TRAINING_TIME_PATH
from lib.services import errors, lifecycle, pricing

if TYPE_CHECKING:
    import openai

__all__ = [
    "Kind",
    "ProviderConfig",
    "ConnectionResult",
    "TrainableModel",
    "Provider",
    "PROVIDERS",
    "register",
    "get_provider",
    "default_config",
    "config_from_env",
    "make_client",
    "test_connection",
    "model_for_inference",
    "trainable_models",
    "AZURE_DEPLOYMENT_HELP",
    "LOCAL_HOST",
    "LOCAL_PORT",
    "local_engine_handle",
    "training_time",
    "on_this_computer",
    "LOCAL_DEFAULT_MODEL",
    "start_own_engine",
    "untrusted_local_engine",
]

Kind = Literal["local", "openai", "azure", "url", "together"]

LOCAL_HOST = "127.0.0.1"
LOCAL_PORT = 8765
LOCAL_TIMEOUT = 600.0  # seconds: generation on 2 CPU cores, queued behind other requests
LOCAL_DEFAULT_MODEL = DEFAULT_MODEL  # what the local engine trains and answers with unless told otherwise
TRAINING_TIME_TIMEOUT = 120.0  # seconds: the engine may first measure its speed (about 20 s on 2 cores)
OPENAI_BASE_URL = "https://api.openai.com/v1"
# Azure OpenAI data-plane API version: GA, and later than 2024-08-01-preview, which job events and
# checkpoints need (reference §4, MicrosoftDocs azure-ai-docs fine-tuning-python.md).
AZURE_API_VERSION = "2024-10-21"
# The methods jobs.create can launch (reinforcement needs a grader the studio does not build).
LAUNCHABLE_METHODS = ("supervised", "dpo")
# The placeholder sent to servers that need no key (the SDK insists on one); it is not a secret.
NO_KEY = "not-needed"

AZURE_DEPLOYMENT_HELP = (
    "On Azure OpenAI a fine-tuned model answers only once it is deployed, and deploying happens in "
    "Azure, not here: in the Azure AI Foundry portal open Fine-tuning, pick the model and choose "
    "Deploy (or run `az cognitiveservices account deployment create`). The name you give that "
    "deployment is what the Playground must call: enter it next to the model id. Developer "
    "deployments are removed after 24 hours, and any deployment unused for 15 days is deleted."
)


def _secret(self: ProviderConfig) -> str | None:
    return self.__dict__.get("_api_key")


def _set_secret(self: ProviderConfig, value: str | None) -> None:
    value = value or None
    self.__dict__["_api_key"] = value
    errors.remember_secret(value)


@dataclass(eq=False)
class ProviderConfig:
    """How to reach one provider. Safe to show, log and save: the key is not part of it.

    `api_key` is accepted by the constructor and readable as an attribute, but it is kept outside
    the dataclass fields, so `repr`, `dataclasses.asdict`, `to_dict` and pickling leave it out.
    """

    kind: Kind = field(
        default="local",
        metadata={"help": "local (the studio's own engine), openai, azure, or url (any OpenAI-compatible server)"},
    )
    base_url: str | None = field(
        default=None,
        metadata={"help": "Server address up to /v1. Local: the running engine; url: required; openai: optional proxy."},
    )
    api_key: InitVar[str | None] = None
    azure_endpoint: str | None = field(
        default=None, metadata={"help": "Azure OpenAI resource, e.g. https://my-resource.openai.azure.com/"}
    )
    api_version: str | None = field(
        default=None, metadata={"help": f"Azure OpenAI API version (OPENAI_API_VERSION), default {AZURE_API_VERSION}"}
    )
    deployments: dict[str, str] = field(
        default_factory=dict,
        metadata={
            "help": "Azure only: fine-tuned model id -> deployment name, for inference. "
            "Deployment happens in Azure (portal or az CLI), not in the studio: " + AZURE_DEPLOYMENT_HELP
        },
    )
    timeout: float = field(default=60.0, metadata={"help": "Seconds to wait for one answer before giving up"})
    max_retries: int = field(
        default=2, metadata={"help": "Retries of 408/409/429/5xx and lost connections, done by the openai SDK"}
    )

    def __post_init__(self, api_key: str | None) -> None:
        _set_secret(self, api_key)
        _load_plugins()
        if self.kind not in PROVIDERS:
            known = ", ".join(PROVIDERS)
            raise ValueError(f"Unknown provider {self.kind!r}: choose one of {known}.")
        if not (isinstance(self.timeout, int | float) and self.timeout > 0):
            raise ValueError(f"timeout must be a positive number of seconds, not {self.timeout!r}.")
        if not (isinstance(self.max_retries, int) and self.max_retries >= 0):
            raise ValueError(f"max_retries must be 0 or more, not {self.max_retries!r}.")
        self.deployments = {str(k): str(v) for k, v in (self.deployments or {}).items() if k and v}
        for name in ("base_url", "azure_endpoint", "api_version"):
            value = getattr(self, name)
            setattr(self, name, value.strip() if isinstance(value, str) and value.strip() else None)

    # The key: in memory only.
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_api_key", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_api_key", None)

    def __copy__(self) -> ProviderConfig:
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        return new

    def __deepcopy__(self, memo: dict[int, Any]) -> ProviderConfig:
        new = object.__new__(type(self))
        new.__dict__.update(copy.deepcopy(self.__getstate__(), memo))
        new.__dict__["_api_key"] = self.api_key
        return new

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ProviderConfig):
            return NotImplemented
        return self.to_dict() == other.to_dict() and self.api_key == other.api_key

    __hash__ = None  # type: ignore[assignment]

    @property
    def has_key(self) -> bool:
        return bool(self.api_key)

    @property
    def provider(self) -> Provider:
        return PROVIDERS[self.kind]

    def to_dict(self) -> dict[str, Any]:
        """Everything but the key: safe to save, export and log."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, api_key: str | None = None) -> ProviderConfig:
        """Rebuild from `to_dict()`; the key, never saved, is given again separately."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names}, api_key=api_key)

    def redacted(self) -> dict[str, Any]:
        """`to_dict()` plus whether a key is set, for showing the settings on screen or in a log."""
        return {**self.to_dict(), "api_key": "set (hidden)" if self.api_key else None}

    def fingerprint(self) -> str:
        """A short stable id of the settings and key (the key only hashed): cache clients by this.

        With Streamlit: `st.cache_resource(hash_funcs={ProviderConfig: ProviderConfig.fingerprint})`.
        """
        digest = hashlib.sha256(repr(sorted(self.to_dict().items())).encode())
        digest.update(b"\0" + (self.api_key or "").encode())
        return digest.hexdigest()[:16]

    def describe(self) -> str:
        """One line naming the provider and where it is, e.g. "the local engine at http://127.0.0.1:8765"."""
        return self.provider.describe(self)


# ProviderConfig.api_key reads and writes the in-memory key (set after the dataclass is built so the
# constructor keeps its `api_key=` argument).
ProviderConfig.api_key = property(_secret, _set_secret, doc="The API key, in memory only.")  # type: ignore[assignment]


@dataclass(frozen=True)
class ConnectionResult:
    """What `test_connection` found: `ok`, a plain sentence, and the model ids the provider lists."""

    ok: bool
    message: str
    models: list[str] = field(default_factory=list)
    error: errors.StudioError | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class TrainableModel:
    """One model the user may pick to fine-tune, and whether that is possible now (with why not)."""

    id: str
    trainable: bool
    reason: str = ""
    label: str = ""
    methods: tuple[str, ...] = ("supervised",)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- the registry -------------------------------------------------------------------------------


class Provider:
    """One kind of service. Subclass it, set `kind` and `label`, and `register()` an instance."""

    kind: str = ""
    label: str = ""
    help: str = ""
    needs_key: bool = False
    # True: pause/resume exist; False: they do not; None: ask the server (jobs.pause says NotSupported).
    can_pause: bool | None = None

    def make_client(self, config: ProviderConfig) -> openai.OpenAI:
        raise NotImplementedError

    def model_for_inference(self, config: ProviderConfig, model_id: str) -> str:
        return model_id

    def trainable_models(
        self, config: ProviderConfig, today: dt.date, client: openai.OpenAI | None = None
    ) -> list[TrainableModel]:
        return _listed_models(config, client, reason="this server decides whether it can fine-tune it")

    def address(self, config: ProviderConfig) -> str:
        return config.base_url or ""

    def describe(self, config: ProviderConfig) -> str:
        address = self.address(config)
        return f"{self.label} at {address}" if address else self.label

    def config_from_env(self, env: Mapping[str, str]) -> ProviderConfig:
        return ProviderConfig(kind=self.kind)  # type: ignore[arg-type]


PROVIDERS: dict[str, Provider] = {}


def register(provider: Provider) -> Provider:
    """Add (or replace) a provider under `provider.kind`; returns it, so it works as a decorator on an instance."""
    if not provider.kind:
        raise ValueError("A provider needs a `kind`.")
    PROVIDERS[provider.kind] = provider
    return provider


def get_provider(kind: str) -> Provider:
    _load_plugins()
    try:
        return PROVIDERS[kind]
    except KeyError:
        raise ValueError(f"Unknown provider {kind!r}: choose one of {', '.join(PROVIDERS)}.") from None


def _openai_client(config: ProviderConfig, *, base_url: str, api_key: str | None) -> openai.OpenAI:
    import openai

    # base_url and api_key are always explicit, so OPENAI_BASE_URL / OPENAI_API_KEY from the
    # environment never leak to another provider's server.
    return openai.OpenAI(
        base_url=base_url, api_key=api_key or NO_KEY, timeout=config.timeout, max_retries=config.max_retries
    )


def _with_v1(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith("/v1") else url + "/v1"


class LocalProvider(Provider):
    kind = "local"
    label = "the local engine"
    help = "The studio's own fine-tuning engine on this machine: free, offline, trains small open models."
    can_pause = None

    def __init__(self) -> None:
        self.handles: dict[tuple[str, int], Any] = {}
        # The port of the studio's own engine: LOCAL_PORT, or a free one when the user chose to start it
        # elsewhere because something else answers on LOCAL_PORT (`start_own_engine`).
        self.port: int | None = None

    def address(self, config: ProviderConfig) -> str:
        return config.base_url or f"http://{LOCAL_HOST}:{self.port or LOCAL_PORT}/v1"

    def base_url(self, config: ProviderConfig) -> str:
        """The engine's /v1 address: the configured one, else one `ensure_running` answers for."""
        return self.engine(config)[0]

    def engine(self, config: ProviderConfig) -> tuple[str, str | None]:
        """(the /v1 address, the key to send there). An engine the user configured by URL gets the key
        configured with it; otherwise only the engine this app started (and can prove it started) is
        used, with the key the app generated for it. Raises `UntrustedEngine` when something else answers."""
        if config.base_url:
            return _with_v1(config.base_url), config.api_key
        port = self.port or LOCAL_PORT
        try:
            handle = engine_process.ensure_running(
                host=LOCAL_HOST, port=port, data_dir=paths.engine_dir()
            )
        except EngineNotProven as exc:
            raise _untrusted(exc) from None
        except Exception as exc:  # the engine's own failure, reported in plain words
            raise errors.ConnectionFailed(
                f"The local engine did not start ({errors.scrub(str(exc)) or type(exc).__name__}). "
                "Start it yourself with `python -m lib engine` and try again."
            ) from exc
        if getattr(handle, "started", False) and self.handles.get((LOCAL_HOST, port)) is not handle:
            atexit.register(handle.stop)  # the app stops the engine it started, and only that one
        self.handles[(LOCAL_HOST, port)] = handle
        address = _with_v1(str(getattr(handle, "base_url", f"http://{LOCAL_HOST}:{port}")))
        return address, getattr(handle, "api_key", None)

    def make_client(self, config: ProviderConfig) -> openai.OpenAI:
        # The engine answers one chat at a time on a CPU: a reply queued behind another may wait minutes.
        if config.timeout < LOCAL_TIMEOUT:
            config = ProviderConfig.from_dict({**config.to_dict(), "timeout": LOCAL_TIMEOUT}, api_key=config.api_key)
        base_url, api_key = self.engine(config)
        return _openai_client(config, base_url=base_url, api_key=api_key)

    def trainable_models(
        self, config: ProviderConfig, today: dt.date, client: openai.OpenAI | None = None
    ) -> list[TrainableModel]:
        # The engine trains with TRL's SFT and DPO trainers.
        return _listed_models(config, client, reason="", methods=("supervised", "dpo"))

    def config_from_env(self, env: Mapping[str, str]) -> ProviderConfig:
        return ProviderConfig(
            kind="local", base_url=env.get("FTS_ENGINE_URL") or None, api_key=env.get("FTS_ENGINE_KEY") or None
        )


class OpenAIProvider(Provider):
    kind = "openai"
    label = "OpenAI"
    help = (
        "OpenAI's hosted fine-tuning. OpenAI is winding it down: no new users since 2026-05-07, "
        "no new jobs for anyone from 2027-01-06; gpt-4o / gpt-4.1 models and their fine-tunes stop answering "
        "on 2027-01-14."
    )
    needs_key = True
    can_pause = True

    def address(self, config: ProviderConfig) -> str:
        return config.base_url or OPENAI_BASE_URL

    def describe(self, config: ProviderConfig) -> str:
        return "OpenAI" if not config.base_url else f"OpenAI at {config.base_url}"

    def make_client(self, config: ProviderConfig) -> openai.OpenAI:
        if not config.api_key:
            raise errors.MissingSetting(
                "No OpenAI API key: type it in the sidebar (kept for this session only) "
                "or set OPENAI_API_KEY before starting the studio."
            )
        return _openai_client(config, base_url=self.address(config), api_key=config.api_key)

    def trainable_models(
        self, config: ProviderConfig, today: dt.date, client: openai.OpenAI | None = None
    ) -> list[TrainableModel]:
        found = []
        for info in pricing.MODELS.values():
            if info.provider != "openai" or info.hidden:
                continue
            methods = tuple(info.methods)
            if not methods:
                continue  # listed in the price table only so that old ft: ids resolve
            ok, reason = pricing.trainable(info.id, today)
            launchable = tuple(m for m in methods if m in LAUNCHABLE_METHODS)
            if ok and not launchable:
                ok, reason = False, f"{info.id} offers only {', '.join(methods)} fine-tuning, which the studio does not launch."
            found.append(TrainableModel(info.id, ok, reason, info.label, launchable))
        return sorted(found, key=lambda m: (not m.trainable, m.id))

    def config_from_env(self, env: Mapping[str, str]) -> ProviderConfig:
        return ProviderConfig(kind="openai", api_key=env.get("OPENAI_API_KEY") or None)


# Models Azure OpenAI fine-tunes (MicrosoftDocs azure-ai-docs includes/fine-tune-models.md, 2025-2026;
# reference §4). OpenAI's wind-down does not apply to Azure; regions differ per model.
AZURE_TRAINABLE: dict[str, str] = {
    "gpt-4.1-2025-04-14": "North Central US, Sweden Central",
    "gpt-4.1-mini-2025-04-14": "North Central US, Sweden Central",
    "gpt-4.1-nano-2025-04-14": "North Central US, Sweden Central",
    "gpt-4o-2024-08-06": "East US 2, North Central US, Sweden Central",
    "gpt-4o-mini-2024-07-18": "North Central US, Sweden Central",
}


class AzureProvider(Provider):
    kind = "azure"
    label = "Azure OpenAI"
    help = (
        "Microsoft's hosted OpenAI models. Fine-tuned models must be deployed in Azure to answer. "
        + lifecycle.AZURE_CAVEAT
    )
    needs_key = True
    can_pause = True

    def address(self, config: ProviderConfig) -> str:
        return config.azure_endpoint or config.base_url or ""

    def make_client(self, config: ProviderConfig) -> openai.OpenAI:
        import openai

        if not config.api_key:
            raise errors.MissingSetting(
                "No Azure OpenAI key: type it in the sidebar or set AZURE_OPENAI_API_KEY "
                "(Azure portal → your resource → Keys and Endpoint)."
            )
        if config.base_url and not config.azure_endpoint:
            # Azure's v1 API: a plain OpenAI client on https://<resource>.openai.azure.com/openai/v1/
            return _openai_client(config, base_url=config.base_url, api_key=config.api_key)
        if not config.azure_endpoint:
            raise errors.MissingSetting(
                "No Azure OpenAI endpoint: enter it in the sidebar or set AZURE_OPENAI_ENDPOINT "
                "(for example https://my-resource.openai.azure.com/)."
            )
        return openai.AzureOpenAI(
            azure_endpoint=config.azure_endpoint,
            api_key=config.api_key,
            api_version=config.api_version or AZURE_API_VERSION,
            timeout=config.timeout,
            max_retries=config.max_retries,
        )

    def model_for_inference(self, config: ProviderConfig, model_id: str) -> str:
        if model_id in config.deployments:
            return config.deployments[model_id]
        if model_id in config.deployments.values():
            return model_id
        raise errors.MissingSetting(
            f"No Azure deployment is named for {model_id}. " + AZURE_DEPLOYMENT_HELP, param="deployments"
        )

    def trainable_models(
        self, config: ProviderConfig, today: dt.date, client: openai.OpenAI | None = None
    ) -> list[TrainableModel]:
        found = []
        for info in (info for info in pricing.MODELS.values() if info.azure_trains):
            methods = tuple(m for m in info.methods if m in LAUNCHABLE_METHODS)
            regions = AZURE_TRAINABLE.get(info.id, "North Central US, Sweden Central")
            if methods:
                found.append(TrainableModel(
                    info.id, True, f"{lifecycle.azure_reason(info.id)} Regions: {regions}.", info.label, methods
                ))
            else:
                found.append(TrainableModel(
                    info.id, False, "Azure offers only reinforcement fine-tuning for it, which the studio does not launch.",
                    info.label, (),
                ))
        return sorted(found, key=lambda m: (not m.trainable, m.id))

    def config_from_env(self, env: Mapping[str, str]) -> ProviderConfig:
        return ProviderConfig(
            kind="azure",
            api_key=env.get("AZURE_OPENAI_API_KEY") or None,
            azure_endpoint=env.get("AZURE_OPENAI_ENDPOINT") or None,
            api_version=env.get("OPENAI_API_VERSION") or None,
        )


class URLProvider(Provider):
    kind = "url"
    label = "an OpenAI-compatible server"
    help = "Any server that speaks OpenAI's API (a team's engine on a GPU box, a gateway, ...)."
    can_pause = None

    def describe(self, config: ProviderConfig) -> str:
        return f"the server at {config.base_url}" if config.base_url else self.label

    def make_client(self, config: ProviderConfig) -> openai.OpenAI:
        if not config.base_url:
            raise errors.MissingSetting(
                "No server address: enter the base URL (up to /v1) in the sidebar, or pass --base-url."
            )
        base_url = config.base_url
        if urlsplit(base_url).path in ("", "/"):  # a bare server address: OpenAI-compatible servers answer under /v1
            base_url = _with_v1(base_url)
        return _openai_client(config, base_url=base_url, api_key=config.api_key)

    def config_from_env(self, env: Mapping[str, str]) -> ProviderConfig:
        return ProviderConfig(
            kind="url", base_url=env.get("OPENAI_BASE_URL") or None, api_key=env.get("OPENAI_API_KEY") or None
        )


for _provider in (LocalProvider(), OpenAIProvider(), AzureProvider(), URLProvider()):
    register(_provider)

# Providers kept in modules of their own, which register themselves the way an outside one would.
# They import this module, so they are loaded on first use, not while this module loads (no import cycle).
PLUGINS = ("lib.services.together",)


def _load_plugins() -> None:
    for name in PLUGINS:
        importlib.import_module(name)  # once: later calls find it in sys.modules


# --- the public functions -------------------------------------------------------------------------


def config_from_env(kind: str, env: Mapping[str, str] | None = None, **overrides: Any) -> ProviderConfig:
    """The settings for `kind` from the usual environment variables; explicit `overrides` win.

    openai: OPENAI_API_KEY · azure: AZURE_OPENAI_API_KEY, AZURE_OPENAI_ENDPOINT, OPENAI_API_VERSION ·
    url: OPENAI_BASE_URL, OPENAI_API_KEY · local: FTS_ENGINE_URL, FTS_ENGINE_KEY.
    """
    env = os.environ if env is None else env
    config = get_provider(kind).config_from_env(env)
    values = {k: v for k, v in overrides.items() if v is not None}
    if not values:
        return config
    api_key = values.pop("api_key", config.api_key)
    return ProviderConfig.from_dict({**config.to_dict(), **values}, api_key=api_key)


def default_config(env: Mapping[str, str] | None = None) -> ProviderConfig:
    """The provider to start with: OpenAI when OPENAI_API_KEY is set (an OpenAI-compatible server
    when OPENAI_BASE_URL points elsewhere), Azure OpenAI when AZURE_OPENAI_* is set, else the local engine."""
    env = os.environ if env is None else env
    if env.get("OPENAI_API_KEY"):
        base = (env.get("OPENAI_BASE_URL") or "").rstrip("/")
        if base and base != OPENAI_BASE_URL:
            return config_from_env("url", env)
        return config_from_env("openai", env)
    if env.get("AZURE_OPENAI_API_KEY") or env.get("AZURE_OPENAI_ENDPOINT"):
        return config_from_env("azure", env)
    return config_from_env("local", env)


def make_client(config: ProviderConfig) -> openai.OpenAI:
    """The openai SDK client for `config` (`openai.OpenAI`, or `openai.AzureOpenAI` on Azure).

    Timeouts and retries (with backoff honouring Retry-After) are the SDK's, set from the config.
    For the local engine with no base URL, the engine is started if none answers.
    Raises `MissingSetting` when a key, endpoint or address is missing.
    """
    return config.provider.make_client(config)


def test_connection(config: ProviderConfig) -> ConnectionResult:
    """List the provider's models and say, in one plain sentence, whether it can be used."""
    where = config.describe()
    try:
        client = make_client(config)
        models = sorted(m.id for m in client.models.list())
    except Exception as exc:
        error = errors.translate(exc)
        return ConnectionResult(False, error.message, [], error)
    count = f"{len(models)} model{'s' if len(models) != 1 else ''}"
    return ConnectionResult(True, f"Connected to {where}: {count} available.", models)


test_connection.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def local_engine_handle() -> Any:
    """The `EngineHandle` of the local engine `make_client` found or started (None before that);
    `.started` says whether this process started it, `.stop()` stops only that one."""
    local = PROVIDERS["local"]
    return local.handles.get((LOCAL_HOST, getattr(local, "port", None) or LOCAL_PORT))


def _untrusted(exc: EngineNotProven) -> errors.UntrustedEngine:
    return errors.UntrustedEngine(
        f"{exc} If it is yours, choose “Trust it for this session” in the sidebar (or set FTS_ENGINE_URL); "
        "otherwise start the studio's own engine on another port.",
        address=exc.root_url,
    )


def untrusted_local_engine(config: ProviderConfig) -> errors.UntrustedEngine | None:
    """What answers where the studio's own engine should be, when it cannot prove it is that engine
    (None when the engine is set by URL, is the one this app started, or nothing answers). Starts
    nothing and sends no key: the sidebar asks the user what to do with it."""
    if config.kind != "local" or config.base_url:
        return None
    local = PROVIDERS["local"]
    port = local.port or LOCAL_PORT
    handle = local.handles.get((LOCAL_HOST, port))
    if handle is not None and getattr(handle, "running", lambda: False)():
        return None
    root = f"http://{LOCAL_HOST}:{port}"
    what = engine_process.what_answers(root)
    if what is None:
        return None
    return _untrusted(EngineNotProven(root, what))


def start_own_engine() -> str:
    """Start the studio's own engine on a free port, for when something else answers on the default one
    (the user chose not to trust it); every later local client uses it. Returns its /v1 address."""
    local = PROVIDERS["local"]
    local.port = engine_process.free_port(LOCAL_HOST)
    return local.base_url(ProviderConfig(kind="local"))


def model_for_inference(config: ProviderConfig, model_id: str) -> str:
    """The `model=` to send for chat with `model_id`: on Azure its deployment name, elsewhere the id itself."""
    return config.provider.model_for_inference(config, model_id)


def trainable_models(
    config: ProviderConfig, today: dt.date | None = None, client: openai.OpenAI | None = None
) -> list[TrainableModel]:
    """What the user can fine-tune on this provider, trainable ones first, each with a reason when not.

    OpenAI: the dated table in `lib.services.pricing` (wind-down and shutdown dates); Azure: the models
    Azure fine-tunes; the local engine and other servers: what their models list offers.
    """
    today = today or dt.date.today()
    try:
        return config.provider.trainable_models(config, today, client)
    except errors.StudioError:
        raise
    except Exception as exc:
        raise errors.translate(exc) from exc


def on_this_computer(config: ProviderConfig) -> bool:
    """Whether the provider runs on this computer (the local engine at its usual address, say)."""
    return (urlsplit(config.provider.address(config)).hostname or "").lower() in THIS_COMPUTER


def training_time(
    config: ProviderConfig, *, model: str, tokens: int, examples: int, epochs: int | str = "auto",
    calibrate: bool = False, client: openai.OpenAI | None = None,
) -> dict[str, Any]:
    """How long a job would take on the engine `config` reaches (a team's GPU engine, or this computer's).

    Asks that engine over HTTP (`GET /v1/engine/estimate`), as every page reaches the engine, so the
    figure is the speed of the machine that will train. Returns the engine's answer: {"seconds" (None
    when not measured yet), "tokens_per_second", "basis", "epochs", "model"}. `calibrate` lets the
    engine measure its speed first (about 20 s, once). Raises `StudioError` when it does not answer.
    """
    if config.kind != "local":
        raise errors.NotSupported(f"{config.describe()} does not say how long training takes.")
    client = (client or make_client(config)).with_options(
        max_retries=0, timeout=TRAINING_TIME_TIMEOUT if calibrate else config.timeout)
    params = {"model": model, "tokens": tokens, "examples": examples, "epochs": epochs,
              "calibrate": "true" if calibrate else "false"}
    try:
        return client.get(TRAINING_TIME_PATH.removeprefix("/v1"), cast_to=dict, options={"params": params})
    except Exception as exc:
        raise errors.translate(exc) from exc


# --- helpers --------------------------------------------------------------------------------------


def _listed_models(
    config: ProviderConfig, client: openai.OpenAI | None, *, reason: str, methods: tuple[str, ...] = ("supervised",)
) -> list[TrainableModel]:
    """Base models from the server's model list (fine-tuned models and checkpoints left out)."""
    client = client or make_client(config)
    found = []
    for model in client.models.list():
        extra = getattr(model, "model_extra", None) or {}
        model_id = model.id
        if model_id.startswith("ft:") or ":ckpt-step-" in model_id or extra.get("fine_tuned"):
            continue
        trainable = extra.get("fine_tunable", extra.get("trainable"))
        label = str(extra.get("label") or extra.get("description") or "")
        why = str(extra.get("reason") or reason)
        info = pricing.model_info(model_id)
        if not label and info is not None:
            label = info.label
        if "random" in model_id and not label:
            label = "tiny random test model: trains in seconds, answers nonsense"
        listed = tuple(m for m in (extra.get("methods") or methods) if m in LAUNCHABLE_METHODS)
        found.append(TrainableModel(model_id, trainable is not False, why, label or model_id, listed))
    return sorted(found, key=lambda m: (not m.trainable, m.id))
