"""What the local engine adds to OpenAI's wire format, named once for the server and its clients.

Plain constants, no imports: `lib.services.errors` (the client side) reads them without loading the engine.
"""

from __future__ import annotations

ENGINE_HEADER = "X-Fine-Tune-Studio-Engine"  # on every answer of the local engine, so errors can name it
# Host names that mean "this computer": an engine there is the user's own (errors name it, pages say "this computer").
THIS_COMPUTER = ("127.0.0.1", "localhost", "::1", "0.0.0.0")
TRAINING_TIME_PATH = "/v1/engine/estimate"  # GET: how long a job would take on this engine (not an OpenAI route)
