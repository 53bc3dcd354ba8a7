"""``make chat``: a chat in the terminal, streamed, with its history trimmed to a token budget.

Usage: python scripts/chat.py [--backend replay|local|live] [--budget 2000] [--model gpt-5.4-mini]

- ``replay`` (the default): the course server with nothing recorded, so every turn goes to the local backend
  (the replay fallback, helpers/replay/fallback.py); it must be running (``make local-backend``).
- ``local``: straight to the local backend (``COURSE_LOCAL_BACKEND_URL``, default 127.0.0.1:8011).
- ``live``: OpenAI (``OPENAI_API_KEY``), or ``OPENAI_BASE_URL``'s server; the spending cap applies.

Each turn is one plain ``client.responses.create(..., stream=True)`` with the kept history as its ``input``.
After the answer: its tokens (from the API's ``usage``) and cost at the model's price (data/prices.csv).
Ctrl-D or Ctrl-C leaves (Ctrl-C during an answer stops it first).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any, cast

import openai
import tiktoken
from openai import OpenAI
from openai.types.responses import ResponseCompletedEvent, ResponseInputParam, ResponseTextDeltaEvent

from helpers import current, setup
from helpers.cost import UnknownModelError, estimate_cost, usage_tokens
from helpers.errors import ConfigError
from helpers.model_ids import models
from helpers.replay.fallback import URL_VARIABLE
from helpers.replay.wire import LOCAL_BACKEND_URL

INSTRUCTIONS = "You are a concise, friendly assistant. Answer in a few sentences."
PER_MESSAGE = 4  # tokens a message costs beyond its text (role and separators), as OpenAI's cookbook counts them
Message = dict[str, str]


def encoding_for(model: str) -> tiktoken.Encoding:
    """The model's tokenizer; o200k_base (every current OpenAI model's) for ids tiktoken does not know yet."""
    try:
        return tiktoken.encoding_for_model(model)
    except KeyError:
        return tiktoken.get_encoding("o200k_base")


def count(messages: list[Message], encoding: tiktoken.Encoding) -> int:
    """Tokens of ``messages`` as input (text plus :data:`PER_MESSAGE` each)."""
    return sum(len(encoding.encode(m["content"])) + PER_MESSAGE for m in messages)


def trim(history: list[Message], budget: int, encoding: tiktoken.Encoding) -> int:
    """Drop the oldest turns until ``history`` fits ``budget`` tokens (the newest message always stays); how many."""
    dropped = 0
    while len(history) > 1 and count(history, encoding) > budget:
        del history[0]
        dropped += 1
    while history and history[0]["role"] != "user":  # start on a user message
        del history[0]
        dropped += 1
    return dropped


def connect(backend: str) -> tuple[OpenAI, str]:
    """The SDK client for ``backend`` and a line saying where answers come from."""
    if backend == "local":
        os.environ["OPENAI_BASE_URL"] = os.environ.get(URL_VARIABLE, "").strip() or LOCAL_BACKEND_URL
        backend = "live"
    setup("chat", backend, quiet=True)
    session = current()
    assert session is not None
    if backend == "replay":
        fallback = session.server.fallback if session.server is not None else None
        if fallback is None or not fallback.ready():
            where = fallback.address if fallback is not None else "its address"
            raise ConfigError(f"make chat in replay mode needs the course's local backend at {where}, and it is not "
                              "running: start it (make local-backend) in another terminal, or chat live with "
                              "make chat BACKEND=live (OPENAI_API_KEY in .env).")
        return OpenAI(), f"replay · nothing recorded, so the local backend at {fallback.address} answers"
    return OpenAI(), session.banner


def price(model: str, usage: Any) -> str:
    """``12 in · 30 out · $0.000021`` for one answer's usage."""
    tokens_in, tokens_out, cached = usage_tokens(usage)
    try:
        usd = f"${estimate_cost(model, tokens_in, tokens_out, cached):.6f}"
    except (UnknownModelError, ValueError):
        usd = "no price"
    return f"{tokens_in} in · {tokens_out} out · {usd}"


def turn(client: OpenAI, model: str, history: list[Message]) -> tuple[str, Any]:
    """Stream one answer to the terminal; its text and usage."""
    stream = client.responses.create(model=model, instructions=INSTRUCTIONS, input=cast(ResponseInputParam, history),
                                     max_output_tokens=300, stream=True)
    parts: list[str] = []
    usage = None
    try:
        for event in stream:
            if isinstance(event, ResponseTextDeltaEvent):
                parts.append(event.delta)
                print(event.delta, end="", flush=True)
            elif isinstance(event, ResponseCompletedEvent):
                usage = event.response.usage
    finally:
        stream.close()
    print(flush=True)
    return "".join(parts), usage


def chat(client: OpenAI, model: str, budget: int, local_prices: bool) -> None:
    """The loop: read a line, answer it, until Ctrl-D or Ctrl-C."""
    encoding = encoding_for(model)
    history: list[Message] = []
    label = f" at {model}'s price (answered locally: free)" if local_prices else ""
    while True:
        try:
            text = input("you> ").strip()
        except EOFError:
            print()
            return
        if not text:
            continue
        size = count([{"role": "user", "content": text}], encoding)
        if size > budget:
            print(f"(that message is {size} tokens, over the history budget of {budget}: shorten it, "
                  "or start the chat with a larger --budget)")
            continue
        history.append({"role": "user", "content": text})
        dropped = trim(history, budget, encoding)
        print("bot> ", end="", flush=True)
        try:
            answer, usage = turn(client, model, history)
        except openai.APIError as exc:
            history.pop()
            print(f"\n(error: {getattr(exc, 'message', exc)})")
            continue
        history.append({"role": "assistant", "content": answer})
        dropped += trim(history, budget, encoding)
        cost = price(model, usage) if usage is not None else "no usage reported"
        kept = f"history {len(history)} messages, {count(history, encoding)}/{budget} tokens"
        note = f", {dropped} oldest dropped" if dropped else ""
        print(f"[{cost}{label} · {kept}{note}]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make chat", description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=("replay", "local", "live"),
                        default=os.environ.get("COURSE_BACKEND") or "replay")
    parser.add_argument("--budget", type=int, default=2000, help="tokens of history sent with each turn")
    parser.add_argument("--model", default=models.chat)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C leaves, even if started with SIGINT ignored
    if args.budget < 50:
        parser.error("--budget must be at least 50 tokens")
    try:
        client, where = connect(args.backend)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"chat · {where} · {args.model} · history budget {args.budget} tokens · Ctrl-D or Ctrl-C to leave")
    try:
        chat(client, args.model, args.budget, local_prices=args.backend != "live")
    except KeyboardInterrupt:
        print("\n(stopped)")
    session = current()
    if session is not None:
        session.close()
    print("bye")
    return 0


if __name__ == "__main__":
    sys.exit(main())
