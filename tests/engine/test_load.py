"""/health and the job routes keep answering while chat holds every thread of the shared pool.

The app asks /health to decide whether an engine runs; if it waited behind chat, the app would start a
second engine. Counted, not timed: each check must answer while none of the slow chats has finished.
"""

from __future__ import annotations

import json
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from tests.plugins.engine import TINY

CHATS = 45  # more than the 40 threads of the pool that chat and uploads share


def test_health_and_job_routes_answer_while_chats_hold_every_shared_thread(start_engine):
    server = start_engine(prewarm=False)
    client = server.handle.client(timeout=600, max_retries=0)  # the handle knows the key the engine was given
    hello = [{"role": "user", "content": "hi"}]
    client.chat.completions.create(model=TINY, messages=hello, max_tokens=1)  # loads the model
    pool = ThreadPoolExecutor(CHATS)
    try:
        chats = [pool.submit(client.chat.completions.create, model=TINY, messages=hello, max_tokens=1500,
                             temperature=0) for _ in range(CHATS)]
        time.sleep(2)  # let every chat reach the engine (not an assertion: the checks below count)
        finished_at_each_answer = []
        for _ in range(5):
            with urllib.request.urlopen(server.root_url + "/health", timeout=600) as response:
                assert json.loads(response.read())["status"] == "ok"
            finished_at_each_answer.append(sum(chat.done() and chat.exception() is None for chat in chats))
            assert client.fine_tuning.jobs.list().data == []
            assert client.files.list().data == []
            finished_at_each_answer.append(sum(chat.done() and chat.exception() is None for chat in chats))
        assert finished_at_each_answer == [0] * 10
    finally:
        server.stop()  # ends the chats still generating
        pool.shutdown(wait=True, cancel_futures=True)
