"""Request types: one pydantic model per request, with OpenAI's ranges in shared `Field`s."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SUFFIX_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

model_field = Field(description="Model id: a base model, a fine-tuned model or a checkpoint.")
temperature_field = Field(None, ge=0.0, le=2.0, description="Sampling temperature; 0 is greedy.")
top_p_field = Field(None, gt=0.0, le=1.0, description="Nucleus sampling mass.")
max_tokens_field = Field(None, ge=1, description="Most tokens to generate.")
seed_field = Field(None, ge=0, le=2**63 - 1, description="Seed for reproducible sampling.")


def _auto_or_int(name: str, low: int, high: int):
    def check(value: Any) -> Any:
        if value is None or value == "auto":
            return value
        if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
            raise ValueError(f"{name} must be 'auto' or an integer between {low} and {high}.")
        if not low <= int(value) <= high:
            raise ValueError(f"{name} must be 'auto' or an integer between {low} and {high}, not {value}.")
        return int(value)

    return check


def _auto_or_positive(value: Any) -> Any:
    if value is None or value == "auto":
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"learning_rate_multiplier must be 'auto' or a number greater than 0, not {value!r}.")
    return float(value)


def _beta(value: Any) -> Any:
    if value is None or value == "auto":
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 2:
        raise ValueError(f"beta must be 'auto' or a number greater than 0 and at most 2, not {value!r}.")
    return float(value)


class Hyperparameters(BaseModel):
    """OpenAI's hyperparameters; each "auto" or a value within OpenAI's range."""

    model_config = ConfigDict(extra="forbid")
    n_epochs: Any = Field("auto", description="'auto' or 1–50.")
    batch_size: Any = Field("auto", description="'auto' or 1–256.")
    learning_rate_multiplier: Any = Field("auto", description="'auto' or > 0.")
    beta: Any = Field(None, description="DPO only: 'auto' or 0 < beta ≤ 2.")
    # Engine extension: "full" fine-tunes every weight instead of a LoRA adapter.
    training: Literal["lora", "full"] | None = Field(None, description="Engine extension: 'lora' (default) or 'full'.")

    @field_validator("n_epochs")
    @classmethod
    def _n_epochs(cls, value: Any) -> Any:
        return _auto_or_int("n_epochs", 1, 50)(value)

    @field_validator("batch_size")
    @classmethod
    def _batch_size(cls, value: Any) -> Any:
        return _auto_or_int("batch_size", 1, 256)(value)

    @field_validator("learning_rate_multiplier")
    @classmethod
    def _learning_rate_multiplier(cls, value: Any) -> Any:
        return _auto_or_positive(value)

    @field_validator("beta")
    @classmethod
    def _check_beta(cls, value: Any) -> Any:
        return _beta(value)


class MethodParams(BaseModel):
    hyperparameters: Hyperparameters | None = None


class Method(BaseModel):
    type: Literal["supervised", "dpo", "reinforcement"] = Field(description="supervised (SFT) or dpo.")
    supervised: MethodParams | None = None
    dpo: MethodParams | None = None
    reinforcement: dict | None = None

    @model_validator(mode="after")
    def _supported(self):
        if self.type == "reinforcement":
            raise ValueError("The local engine supports the 'supervised' and 'dpo' methods, not 'reinforcement'.")
        if self.type == "supervised" and self.dpo is not None:
            raise ValueError("method.dpo is given but method.type is 'supervised'.")
        if self.type == "supervised" and self.supervised and self.supervised.hyperparameters \
                and self.supervised.hyperparameters.beta is not None:
            raise ValueError("beta is a DPO hyperparameter; it is not allowed with the 'supervised' method.")
        return self


class JobCreateParams(BaseModel):
    model: str = Field(description="Base model to fine-tune.")
    training_file: str = Field(description="Id of an uploaded file with purpose 'fine-tune'.")
    validation_file: str | None = Field(None, description="Id of an uploaded validation file.")
    hyperparameters: Hyperparameters | None = Field(None, description="Deprecated: use method.")
    method: Method | None = None
    suffix: str | None = Field(None, description="Up to 64 characters, added to the fine-tuned model's name.")
    seed: int | None = Field(None, ge=0, le=2147483647, description="Seed for reproducible training.")
    metadata: dict[str, str] | None = Field(None, description="Up to 16 key/value pairs.")
    integrations: list[dict] | None = Field(None, description="Accepted and ignored (no Weights & Biases here).")

    @field_validator("suffix")
    @classmethod
    def _suffix(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not SUFFIX_PATTERN.match(value):
            raise ValueError("suffix must be 1 to 64 characters: letters, digits, '-', '_' or '.'.")
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return value
        if len(value) > 16:
            raise ValueError("metadata can have at most 16 keys.")
        for key, item in value.items():
            if len(key) > 64:
                raise ValueError(f"metadata key {key[:20]!r}... is longer than 64 characters.")
            if len(item) > 512:
                raise ValueError(f"metadata value for {key!r} is longer than 512 characters.")
        return value

    @property
    def method_type(self) -> str:
        return self.method.type if self.method else "supervised"

    def resolved_hyperparameters(self) -> Hyperparameters:
        """The method's hyperparameters, else the deprecated top-level ones, else all 'auto'."""
        if self.method is not None:
            section = getattr(self.method, self.method_type)
            if section is not None and section.hyperparameters is not None:
                return section.hyperparameters
        return self.hyperparameters or Hyperparameters()


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionParams(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = model_field
    messages: list[ChatMessage] = Field(min_length=1, description="The conversation so far.")
    temperature: float | None = temperature_field
    top_p: float | None = top_p_field
    max_tokens: int | None = max_tokens_field
    max_completion_tokens: int | None = max_tokens_field
    n: int | None = Field(None, ge=1, le=128, description="How many choices to generate for the prompt (1-128).")
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    seed: int | None = seed_field
    stop: str | list[str] | None = Field(None, description="Up to 4 sequences where generation stops.")
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0, description="Accepted; mapped to a repetition penalty.")
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0, description="Accepted and ignored.")
    user: str | None = None
    service_tier: Literal["auto", "default", "flex", "priority"] | None = Field(
        None, description="'flex': served after the requests a person is waiting for (scores, sweeps).")
    logprobs: bool | None = Field(None, description="Return the log probability of each output token.")
    top_logprobs: int | None = Field(None, ge=0, le=20, description="With logprobs: the most likely tokens at "
                                                                   "each position (0-20).")
    response_format: dict[str, Any] | None = Field(None, description="Only {'type': 'text'} here.")
    # Accepted by OpenAI, refused here by name (a 400), never silently ignored: these models cannot call tools.
    tools: list[Any] | None = Field(None, description="Not supported: refused when not empty.")
    functions: list[Any] | None = Field(None, description="Not supported: refused when not empty.")
    tool_choice: Any = Field(None, description="Not supported: only 'none'.")
    function_call: Any = Field(None, description="Not supported: only 'none'.")

    @field_validator("top_logprobs")
    @classmethod
    def _top_logprobs(cls, value, info):
        if value is not None and not info.data.get("logprobs"):
            raise ValueError("top_logprobs needs logprobs set to true.")
        return value

    @field_validator("response_format")
    @classmethod
    def _response_format(cls, value):
        kind = (value or {}).get("type", "text")
        if kind != "text":
            raise ValueError(f"response_format of type '{kind}' is not supported by the local engine (it cannot "
                             "force JSON output): leave response_format out, and ask for JSON in the prompt.")
        return value

    @field_validator("tools", "functions")
    @classmethod
    def _no_tools(cls, value, info):
        if value:
            raise ValueError(f"{info.field_name} are not supported by the local engine: its models cannot call "
                             "tools. Leave out tools and tool_choice.")
        return value

    @field_validator("tool_choice", "function_call")
    @classmethod
    def _no_tool_choice(cls, value, info):
        if value not in (None, "none"):
            raise ValueError(f"{info.field_name} is not supported by the local engine: its models cannot call "
                             "tools.")
        return value

    def choices(self) -> int:
        return self.n or 1

    def logprobs_count(self) -> int | None:
        """None when logprobs are not asked for, else how many most likely tokens to list."""
        return (self.top_logprobs or 0) if self.logprobs else None

    @field_validator("stop")
    @classmethod
    def _stop(cls, value):
        if isinstance(value, list) and len(value) > 4:
            raise ValueError("stop can have at most 4 sequences.")
        return value

    def stop_list(self) -> list[str]:
        if not self.stop:
            return []
        return [self.stop] if isinstance(self.stop, str) else [s for s in self.stop if s]

    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens
