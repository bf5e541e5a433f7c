"""Plain-language errors for everything that talks to a model service.

One base class, `StudioError`, and one subclass per kind of failure, so callers catch the narrow
one (`except RateLimited`) and the page or the command line shows `err.message` as it is: a plain
sentence that says what happened and what to do next. `translate(exc)` turns the openai SDK's
exceptions into these. Retrying 408/409/429/5xx with backoff and `Retry-After` is the SDK's job
(`max_retries`, `timeout` on the client); an error reaching `translate` has already been retried.

No message ever carries an API key: every message is scrubbed of anything key-shaped and of every
key the studio has been given in this process (`remember_secret`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from lib.engine.protocol import ENGINE_HEADER, THIS_COMPUTER
from lib.services.sdk_objects import field_of

__all__ = [
    "StudioError",
    "AuthError",
    "TrainingNotAvailable",
    "PermissionDenied",
    "NotFound",
    "RateLimited",
    "ServerError",
    "Timeout",
    "ConnectionFailed",
    "UntrustedEngine",
    "BadRequest",
    "JobFailed",
    "NotSupported",
    "MissingSetting",
    "translate",
    "translated",
    "one_line",
    "scrub",
    "remember_secret",
    "lines_named",
]

# --- keeping keys out of messages -------------------------------------------------------------

_SECRETS: set[str] = set()
_KEY_PATTERNS = [
    # OpenAI keys (sk-..., sk-proj-..., sk-svcacct-...), also the partly starred form OpenAI echoes back.
    re.compile(r"\bsk-[A-Za-z0-9_\-\*\.]{3,}"),
    # Authorization headers and key=value pairs that found their way into a text.
    re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9_\-\.=:/+]{8,}"),
    re.compile(r"(?i)\b(api[-_ ]?key|key|token|secret)(\s*[:=]\s*)[\"']?[A-Za-z0-9_\-\.=/+]{8,}"),
]
REDACTED = "[hidden key]"


def remember_secret(secret: str | None) -> None:
    """Scrub this exact string from every message from now on (the provider keys the user gave us).

    Kept in this process's memory only, like the key itself.
    """
    if secret and len(secret) >= 4:
        _SECRETS.add(secret)


def scrub(text: str) -> str:
    """`text` with every remembered key and anything that looks like an API key replaced."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if len(secret) >= 16:
            text = text.replace(secret, REDACTED)
        else:  # a short key such as "other" is scrubbed as a whole word, never out of the middle of "another"
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", REDACTED, text)
    text = _KEY_PATTERNS[0].sub(REDACTED, text)
    text = _KEY_PATTERNS[1].sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _KEY_PATTERNS[2].sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return text


# --- the errors ---------------------------------------------------------------------------------


class StudioError(Exception):
    """Something a model service (or our own checks) refused, in words a non-programmer can act on.

    `message` says what happened and what to do next; `retryable` says whether the same action
    may work later (the page offers "Try again"); `retry_after` is the wait in seconds the service
    asked for, when it asked.
    """

    status: int | None = None
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        retryable: bool | None = None,
        retry_after: float | None = None,
        status: int | None = None,
        code: str | None = None,
        param: str | None = None,
        detail: str | None = None,
    ) -> None:
        self.message = scrub(message)
        super().__init__(self.message)
        if retryable is not None:
            self.retryable = retryable
        self.retry_after = retry_after
        if status is not None:
            self.status = status
        self.code = code
        self.param = param
        # The service's own words, scrubbed, for a "details" expander; the message already says it plainly.
        self.detail = scrub(detail) if detail else None

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe view (for session state and logs); never contains a key."""
        return {
            "type": type(self).__name__,
            "message": self.message,
            "retryable": self.retryable,
            "retry_after": self.retry_after,
            "status": self.status,
            "code": self.code,
            "param": self.param,
        }


class AuthError(StudioError):
    """401: the key is missing, wrong or revoked."""

    status = 401


class PermissionDenied(StudioError):
    """403: the key works but may not do this."""

    status = 403


class TrainingNotAvailable(PermissionDenied):
    """403 `training_not_available`: OpenAI will not start fine-tuning jobs for this organisation.

    OpenAI is winding down self-serve fine-tuning: no new users since 2026-05-07, organisations
    without recent fine-tuned inference since 2026-07-02, and nobody from 2027-01-06. Azure OpenAI
    trains for existing customers only (lib.services.lifecycle.AZURE_CAVEAT); the local engine trains for anyone;
    `alternatives` names them for the page's buttons.
    """

    code_name = "training_not_available"
    alternatives = ("azure", "local")


class NotFound(StudioError):
    """404: the job, file or model does not exist for this provider (or this key's project)."""

    status = 404


class RateLimited(StudioError):
    """429: too many requests (wait `retry_after` seconds), or the account is out of credit."""

    status = 429
    retryable = True


class ServerError(StudioError):
    """5xx: the service failed on its side; nothing of ours was lost."""

    status = 500
    retryable = True


class Timeout(StudioError):
    """The service did not answer within the client's timeout."""

    retryable = True


class ConnectionFailed(StudioError):
    """The service could not be reached at all (refused, DNS, network down)."""

    retryable = True


class UntrustedEngine(ConnectionFailed):
    """Something answers where the local engine should be, but cannot prove it is the engine the studio
    started: nothing (no key, no data) is sent to it until the user says to trust it. `address` is where."""

    retryable = False

    def __init__(self, message: str, *, address: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.address = address


class BadRequest(StudioError):
    """400 (and 413/422): the service refused the request's content; `param` names the field."""

    status = 400


class JobFailed(StudioError):
    """A fine-tuning job that ended in `failed`; `lines` are the dataset lines its error names."""

    def __init__(self, message: str, *, lines: list[int] | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.lines = list(lines or [])

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "lines": self.lines}

    @classmethod
    def from_job(cls, job: Any) -> JobFailed:
        """Build from a failed `FineTuningJob` (or its dict): its error, and the lines it names."""
        error = field_of(job, "error") or {}
        text = (field_of(error, "message") or "").strip()
        code = field_of(error, "code")
        param = field_of(error, "param")
        lines = lines_named(text)
        which = {"training_file": "training", "validation_file": "validation"}.get(param or "", "")
        if text:
            message = f"The fine-tuning job failed: {text.rstrip('.')}."
        else:
            message = "The fine-tuning job failed without saying why."
        if lines:
            shown = ", ".join(str(n) for n in lines[:10]) + (" …" if len(lines) > 10 else "")
            where = f"the {which} data" if which else "the dataset"
            message += f" Fix line{'s' if len(lines) > 1 else ''} {shown} of {where} on the Dataset page, then launch again."
        elif param in ("training_file", "validation_file"):
            message += f" Check the {which} data on the Dataset page, then launch again."
        else:
            message += " Read the job's events for details, then launch it again."
        return cls(message, lines=lines, code=code, param=param, detail=text or None)


class NotSupported(StudioError):
    """The provider does not offer this action (for example pausing a job on the local engine)."""


class MissingSetting(StudioError):
    """A key, endpoint or address the chosen provider needs has not been given."""


_LINE_LIST = re.compile(
    r"\b(?:lines?|rows?|examples?)\s*(?:number\s*)?#?\s*"
    r"(\d+(?:\s*(?:,|and|&|-|–|to)\s*#?\d+)*)",
    re.IGNORECASE,
)


def lines_named(text: str) -> list[int]:
    """The 1-based line numbers a service's error text names ("line 3", "lines 4, 7 and 9", "lines 2-4")."""
    found: set[int] = set()
    for match in _LINE_LIST.finditer(text or ""):
        part = match.group(1)
        for a, b in re.findall(r"(\d+)\s*(?:-|–|to)\s*#?(\d+)", part):
            lo, hi = int(a), int(b)
            if 0 < lo <= hi and hi - lo <= 1000:
                found.update(range(lo, hi + 1))
        for number in re.findall(r"\d+", part):
            found.add(int(number))
    return sorted(n for n in found if n > 0)


# --- translating the openai SDK's exceptions ----------------------------------------------------


def service_at(url: Any, response: Any = None) -> tuple[str, str]:
    """(who, address) for a request URL: "OpenAI", "Azure OpenAI", "the local engine" or "the server".

    With an answer in hand, the local engine is known by its header (another server on this machine,
    vLLM say, is not the engine); with none, an address on this machine is taken to be the engine."""
    text = str(url or "")
    parts = urlsplit(text)
    host = (parts.hostname or "").lower()
    address = f"{parts.scheme}://{parts.netloc}" if parts.netloc else text
    if host.endswith("openai.com"):
        return "OpenAI", address
    if host.endswith(".azure.com") or host.endswith(".azure-api.net"):
        return "Azure OpenAI", address
    headers = getattr(response, "headers", None)
    if headers is not None:
        if headers.get(ENGINE_HEADER):
            return "the local engine", address
    elif host in THIS_COMPUTER:
        return "the local engine", address
    return f"the server at {address}", address


def _what(url: Any) -> str:
    """What a request was about, from its path ("the fine-tuning job ftjob-1", "the file file-2", ...)."""
    path = urlsplit(str(url or "")).path
    for pattern, label in (
        (r"/deployments/([^/]+)", "the deployment {}"),
        (r"/fine_tuning/jobs/([^/]+)", "the fine-tuning job {}"),
        (r"/files/([^/]+)", "the file {}"),
        (r"/models/(.+)$", "the model {}"),
    ):
        match = re.search(pattern, path)
        if match:
            return label.format(match.group(1))
    if "/chat/completions" in path:
        return "the model"
    return "what was asked for"


def _retry_after(headers: Any) -> float | None:
    if not headers:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / divisor)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value:
        import email.utils

        try:
            parsed = email.utils.parsedate_tz(value)
            if parsed is not None:
                return max(0.0, float(email.utils.mktime_tz(parsed) - time.time()))
        except (TypeError, ValueError, OverflowError):
            return None
    return None


def _key_hint(who: str) -> str:
    if who == "OpenAI":
        return "Check the key (OPENAI_API_KEY, or type it again in the sidebar): it may be mistyped or revoked."
    if who == "Azure OpenAI":
        return "Check the Azure key and endpoint (AZURE_OPENAI_API_KEY, AZURE_OPENAI_ENDPOINT, or the sidebar)."
    if who == "the local engine":
        return "The engine was started with --api-key: use the same key (FTS_ENGINE_KEY, or the sidebar)."
    return "Check the API key for this server in the sidebar."


def _seconds(value: float) -> str:
    value = max(0.0, value)
    if value < 10:
        return f"{value:.1f} s".replace(".0 s", " s")
    if value < 90:
        return f"{value:.0f} s"
    return f"{value / 60:.0f} min"


def one_line(exc: BaseException) -> str:
    """`translate(exc)`'s plain message on one line: what a command prints, what a reply shows as its error."""
    return " ".join(translate(exc).message.split())


@contextmanager
def translated() -> Iterator[None]:
    """Inside it, the SDK's exceptions (and lost connections) come out as plain-language `StudioError`s."""
    try:
        yield
    except StudioError:
        raise
    except Exception as exc:
        import openai

        if isinstance(exc, openai.OpenAIError | ConnectionError | TimeoutError):
            raise translate(exc) from exc
        raise


def translate(exc: BaseException) -> StudioError:
    """The `StudioError` for an exception raised by the openai SDK (or already a `StudioError`).

    The result's message is plain, names the provider (from the request's address) and says what
    to do next; the SDK's own text is kept, scrubbed, in `detail`.
    """
    if isinstance(exc, StudioError):
        return exc
    import openai

    if isinstance(exc, openai.APITimeoutError):
        who, _ = service_at(exc.request.url)
        seconds = _timeout_of(exc)
        within = f" within {_seconds(seconds)}" if seconds else " in time"
        return Timeout(
            f"{who[0].upper() + who[1:]} did not answer{within}. Nothing was lost: try again; "
            "if it keeps happening, raise the timeout in the provider settings.",
            detail=str(exc),
        )
    if isinstance(exc, openai.APIConnectionError):
        who, address = service_at(exc.request.url)
        if who == "the local engine":
            message = (
                f"Could not reach the local engine at {address}: is the engine running? "
                "Start it with `python -m lib engine`, then try again."
            )
        else:
            message = f"Could not reach {who} ({address}): check the address and your network, then try again."
        return ConnectionFailed(message, detail=str(exc.__cause__ or exc))
    if isinstance(exc, openai.APIStatusError):
        return _translate_status(exc)
    if isinstance(exc, openai.APIResponseValidationError):
        who, _ = service_at(exc.request.url)
        return ServerError(
            f"{who[0].upper() + who[1:]} sent an answer the studio could not read. Try again; "
            "if it keeps happening the server may not be OpenAI-compatible.",
            retryable=False,
            detail=str(exc),
        )
    if isinstance(exc, TimeoutError):
        return Timeout(f"Gave up waiting: {exc}. Nothing was lost: try again.")
    if isinstance(exc, ConnectionError):
        return ConnectionFailed(f"Could not connect: {exc}. Check the address and try again.")
    return StudioError(f"Something unexpected went wrong ({type(exc).__name__}: {exc}).", detail=repr(exc))


def _retired_model_message(what: str, said: str | None, code: str | None, who: str) -> str | None:
    """A 404 for a model past its shutdown date (lib.services.lifecycle) is a retirement, not a typo."""
    from lib.services import lifecycle

    model = what.removeprefix("the model ").strip() if what.startswith("the model ") else ""
    if not model and (code == "model_not_found" or "model" in (said or "").lower()):
        named = re.search(r"[`'\"]([^`'\"]+)[`'\"]", said or "")
        model = named.group(1) if named else ""
    return lifecycle.retired_message(model, who) if model else None


def _timeout_of(exc: Any) -> float | None:
    try:
        timeout = exc.request.extensions.get("timeout") or {}
        value = timeout.get("read") or timeout.get("connect")
        return float(value) if value else None
    except (AttributeError, TypeError, ValueError):
        return None


def _translate_status(exc: Any) -> StudioError:
    status = int(getattr(exc, "status_code", 0) or 0)
    url = exc.request.url if getattr(exc, "request", None) is not None else None
    who, _ = service_at(url, getattr(exc, "response", None))
    Who = who[0].upper() + who[1:]
    body = exc.body if isinstance(exc.body, Mapping) else {}
    said = str(body.get("message") or "").strip() or None
    code = getattr(exc, "code", None) or (str(body.get("code")) if body.get("code") else None)
    param = getattr(exc, "param", None) or body.get("param")
    detail = said or str(exc)
    common = {"status": status, "code": code, "param": param, "detail": detail}

    if status == 401:
        return AuthError(f"{Who} did not accept the API key. {_key_hint(who)}", **common)
    if status == 403 and code == TrainingNotAvailable.code_name:
        return TrainingNotAvailable(
            f"{Who} will not start new fine-tuning jobs for this organisation: OpenAI is winding down "
            "self-serve fine-tuning (no new users since 7 May 2026, nobody at all from 6 January 2027). "
            "Your dataset is kept: choose Azure OpenAI or the local engine in the sidebar and launch it there "
            "(Azure only for its existing fine-tuning customers, until no earlier than 2027-04; the local engine "
            "for anyone). "
            "Models you already fine-tuned keep working in the Playground.",
            **common,
        )
    if status == 403:
        reason = f" ({said.rstrip('.')})" if said else ""
        return PermissionDenied(
            f"{Who} refused this for your key{reason}. Ask the account owner for access to fine-tuning, "
            "or use another key or provider.",
            **common,
        )
    if status == 404:
        what = _what(url)
        retired = _retired_model_message(what, said, code, Who)
        if retired:
            return NotFound(retired, **common)
        if what.startswith("the deployment"):
            hint = (
                "deploy the fine-tuned model in Azure (portal → Fine-tuning → Deploy) and enter that "
                "deployment's name next to the model"
            )
        elif what.startswith("the model"):
            hint = "pick one from the model list" + (
                " (on Azure, the name of a deployment)" if who == "Azure OpenAI" else ""
            )
        elif what.startswith("the fine-tuning job"):
            hint = "it may belong to another provider, project or key"
        else:
            hint = "it may have been deleted, or belong to another provider or key"
        return NotFound(f"{Who} has no {what.removeprefix('the ')}: {hint}.", **common)
    if status == 429:
        wait = _retry_after(exc.response.headers if getattr(exc, "response", None) is not None else None)
        if code == "insufficient_quota":
            return RateLimited(
                f"{Who} says this account has run out of credit. Add credit in the account's billing "
                "settings, or use the local engine.",
                retryable=False,
                **common,
            )
        when = f"wait {_seconds(wait)}" if wait else "wait a minute"
        return RateLimited(
            f"{Who} is getting too many requests from this key. Nothing was lost: {when} and try again.",
            retry_after=wait,
            **common,
        )
    if status >= 500:
        return ServerError(
            f"{Who} had a problem on its side ({status}). Nothing was lost: try again in a minute.", **common
        )
    if status == 413:
        return BadRequest(
            f"{Who} refused the file as too large. Split the dataset or remove long examples.", **common
        )
    if status == 409:
        return BadRequest(
            f"{Who} says this cannot be done in the job's current state ({(said or 'conflict').rstrip('.')}).",
            **common,
        )
    if status in (400, 422) or 400 <= status < 500:
        field = f" (field: {param})" if param else ""
        text = (said or "the request was not valid").rstrip(".")
        return BadRequest(f"{Who} refused the request: {text}{field}.", **common)
    return StudioError(f"{Who} answered with an unexpected error ({status}).", **common)
