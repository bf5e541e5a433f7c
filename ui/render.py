"""Renderers several pages share. Message content is always shown as text, never as HTML or Markdown."""

from __future__ import annotations

import json
import re
from typing import Any

import streamlit as st

UNEXPECTED = ("Something unexpected went wrong on this page. Your work is saved: reload the page to go on. "
              "(The details are in the app's log.)")
AVATARS = {"system": "⚙️", "user": "user", "assistant": "assistant", "tool": "🛠️", "function": "🛠️"}


def escape(text: str) -> str:
    """`text` for st.markdown shown as written: no emphasis, links or LaTeX out of a user's words."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>$~])", r"\\\1", text)


def text_block(content: Any) -> None:
    """Show content verbatim: `st.text` never interprets HTML or Markdown."""
    if content is None:
        st.caption("(no text)")
    elif isinstance(content, str):
        st.text(content if content else "(empty)")
    else:
        st.code(json.dumps(content, ensure_ascii=False, indent=2), language="json")


def chat_bubbles(messages: list, *, split_limerick: bool = True) -> None:
    """A chat-style preview of one example."""
    if not messages:
        st.caption("Nothing to preview.")
        return
    for message in messages:
        if not isinstance(message, dict):
            st.warning(f"Not a message: {escape(str(message)[:80])}")
            continue
        role = str(message.get("role", "?"))
        with st.chat_message(AVATARS.get(role, "user") if role in AVATARS else "user"):
            label = role.capitalize()
            if message.get("weight") == 0:
                label += " · weight 0 (not trained on)"
            st.caption(label)
            content = message.get("content")
            if split_limerick and role == "assistant" and isinstance(content, str) and " - " in content:
                content = "\n".join(part.strip() for part in content.split(" - "))
            text_block(content)
            for key in ("tool_calls", "function_call"):
                if message.get(key):
                    text_block(message[key])


def duration(seconds: float) -> str:
    """Seconds in the words a person uses: "45 s", "3 min 10 s", "1 h 20 min"."""
    seconds = max(0, round(seconds))
    if seconds < 90:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if minutes < 10 and secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
