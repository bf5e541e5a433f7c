"""Cut the schemas the engine's responses are checked against out of OpenAI's OpenAPI document.

The whole document (openai/openai-openapi, openapi.json, 3.4 MB) is too large to keep in the repository,
so tests/data/openai_schemas.json holds only the response schemas of the routes the engine serves, with
every schema they reference, exactly as published. Re-run to refresh it:

    python tests/data/extract_openai_schemas.py PATH/TO/openapi.json > tests/data/openai_schemas.json
"""

from __future__ import annotations

import json
import sys

# (method, OpenAI's path) of every route the engine answers with JSON; the engine serves them under /v1.
ROUTES = [
    ("get", "/files"), ("post", "/files"), ("get", "/files/{file_id}"), ("delete", "/files/{file_id}"),
    ("post", "/fine_tuning/jobs"), ("get", "/fine_tuning/jobs"),
    ("get", "/fine_tuning/jobs/{fine_tuning_job_id}"),
    ("post", "/fine_tuning/jobs/{fine_tuning_job_id}/cancel"),
    ("post", "/fine_tuning/jobs/{fine_tuning_job_id}/pause"),
    ("post", "/fine_tuning/jobs/{fine_tuning_job_id}/resume"),
    ("get", "/fine_tuning/jobs/{fine_tuning_job_id}/events"),
    ("get", "/fine_tuning/jobs/{fine_tuning_job_id}/checkpoints"),
    ("get", "/models"), ("get", "/models/{model}"), ("delete", "/models/{model}"),
    ("post", "/chat/completions"),
]
EXTRA = ["ErrorResponse", "CreateChatCompletionStreamResponse"]


def _refs(node, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def extract(document: dict) -> dict:
    schemas = document["components"]["schemas"]
    responses = {}
    for method, path in ROUTES:
        ref = document["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        responses[f"{method.upper()} {path}"] = ref.rsplit("/", 1)[1]
    wanted: set[str] = set(responses.values()) | set(EXTRA)
    done: set[str] = set()
    while wanted - done:
        name = sorted(wanted - done)[0]
        done.add(name)
        _refs(schemas[name], wanted)
    return {
        "source": "https://github.com/openai/openai-openapi openapi.json (MIT licence, Copyright (c) OpenAI), "
                  f"OpenAPI {document['openapi']}, API version {document['info']['version']}; cut by "
                  "tests/data/extract_openai_schemas.py",
        "version": document["info"]["version"],
        "responses": responses,
        "components": {"schemas": {name: schemas[name] for name in sorted(done)}},
    }


if __name__ == "__main__":
    with open(sys.argv[1]) as handle:
        json.dump(extract(json.load(handle)), sys.stdout, indent=1, sort_keys=True)
        sys.stdout.write("\n")
