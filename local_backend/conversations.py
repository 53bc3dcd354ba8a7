"""The Conversations API (``/v1/conversations``) and ``conversation=`` on ``responses.create``.

A conversation is a list of items kept on the server: messages, function calls and their outputs, reasoning
items. ``responses.create(conversation=...)`` answers with the conversation's items before its ``input``, then
appends the input items and the output items to it, as OpenAI does. Kept in memory for the life of the server;
ids are derived from the request like every other id here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from .common import CREATED, ApiError, Call, Reply, check_known, invalid

Answer = Callable[[Call], Reply]
MAX_ITEMS_PER_CALL = 20  # OpenAI: "You may add up to 20 items at a time."


def not_found(conversation_id: str) -> ApiError:
    return ApiError(f"Conversation with id '{conversation_id}' not found.", None, "not_found", status=404)


def stored_item(call: Call, k: int, item: Any, param: str) -> dict[str, Any]:
    """An input item as the conversation keeps it: with an id, a status and typed content parts."""
    if not isinstance(item, dict):
        raise invalid(param, "must be an object.")
    kind = item.get("type", "message")
    if kind == "message":
        role = item.get("role")
        if role not in ("user", "assistant", "system", "developer"):
            raise invalid(f"{param}.role", "must be one of user, assistant, system or developer.")
        content = item.get("content")
        part = "output_text" if role == "assistant" else "input_text"
        parts: list[Any]
        if isinstance(content, str):
            parts = [{"type": part, "text": content} | ({"annotations": [], "logprobs": []} if role == "assistant"
                                                        else {})]
        elif isinstance(content, list):
            parts = content
        else:
            raise invalid(f"{param}.content", "must be a string or a list of content parts.")
        return {"id": item.get("id") or call.make_id("msg_", f"item{k}"), "type": "message", "role": role,
                "status": item.get("status") or "completed", "content": parts}
    if kind in ("function_call", "function_call_output", "reasoning", "compaction"):
        prefix = {"function_call": "fc_", "function_call_output": "fco_", "reasoning": "rs_", "compaction": "cmp_"}
        out = {"id": item.get("id") or call.make_id(prefix[kind], f"item{k}"), **item}
        if kind in ("function_call", "function_call_output"):
            out.setdefault("status", "completed")
        return out
    raise invalid(f"{param}.type", f"items of type {kind!r} are not available offline.")


class Conversations:
    """Conversations in memory, by id: the object and its items in order."""

    def __init__(self) -> None:
        self.conversations: dict[str, dict[str, Any]] = {}
        self.items: dict[str, list[dict[str, Any]]] = {}
        self.lock = threading.Lock()

    def _get(self, conversation_id: str) -> dict[str, Any]:
        if conversation_id not in self.conversations:
            raise not_found(conversation_id)
        return self.conversations[conversation_id]

    def _new_items(self, call: Call, items: Any, param: str = "items") -> list[dict[str, Any]]:
        if items is None:
            return []
        if not isinstance(items, list):
            raise invalid(param, "must be a list of items.")
        if len(items) > MAX_ITEMS_PER_CALL:
            raise invalid(param, f"you may add up to {MAX_ITEMS_PER_CALL} items at a time (got {len(items)}).")
        return [stored_item(call, k, item, f"{param}[{k}]") for k, item in enumerate(items)]

    # -- /v1/conversations ------------------------------------------------------------------------
    def create(self, call: Call) -> Reply:
        check_known(call.body, {"items", "metadata"}, "conversations")
        items = self._new_items(call, call.body.get("items"))
        conversation_id = call.make_id("conv_")
        conversation = {"id": conversation_id, "object": "conversation", "created_at": CREATED,
                        "metadata": call.body.get("metadata") or {}}
        with self.lock:
            self.conversations[conversation_id] = conversation
            self.items[conversation_id] = items
        return Reply(json=conversation)

    def conversation(self, method: str, conversation_id: str, call: Call) -> Reply:
        """GET (retrieve), POST (update the metadata) or DELETE one conversation."""
        with self.lock:
            conversation = self._get(conversation_id)
            if method == "DELETE":
                del self.conversations[conversation_id], self.items[conversation_id]
                return Reply(json={"id": conversation_id, "object": "conversation.deleted", "deleted": True})
            if method == "POST":
                check_known(call.body, {"metadata"}, "conversations.update")
                if "metadata" not in call.body:
                    raise invalid("metadata", "is required.")
                conversation["metadata"] = call.body.get("metadata") or {}
            return Reply(json=dict(conversation))

    # -- /v1/conversations/{id}/items -------------------------------------------------------------
    def list_or_add(self, method: str, conversation_id: str, call: Call) -> Reply:
        with self.lock:
            self._get(conversation_id)
            stored = self.items[conversation_id]
            if method == "POST":
                check_known(call.body, {"items"}, "conversations.items.create")
                if not isinstance(call.body.get("items"), list):
                    raise invalid("items", "is required (a list of items).")
                added = self._new_items(call, call.body["items"])
                stored += added
                return Reply(json=page(added, False))
            order = call.body.get("order", "desc")  # OpenAI's default order for items is newest first
            if order not in ("asc", "desc"):
                raise invalid("order", "must be 'asc' or 'desc'.")
            limit = call.body.get("limit", 20)  # a query parameter: a string on the wire
            if not str(limit).isdigit() or not 1 <= int(limit) <= 100:
                raise invalid("limit", "must be an integer between 1 and 100.")
            limit = int(limit)
            ordered = stored if order == "asc" else stored[::-1]
            after = call.body.get("after")
            if after:
                ids = [i["id"] for i in ordered]
                if after not in ids:
                    raise invalid("after", f"no item '{after}' in this conversation.")
                ordered = ordered[ids.index(after) + 1:]
            return Reply(json=page(ordered[:limit], len(ordered) > limit))

    def item(self, method: str, conversation_id: str, item_id: str) -> Reply:
        """GET one item, or DELETE it (OpenAI answers the conversation)."""
        with self.lock:
            conversation = self._get(conversation_id)
            stored = self.items[conversation_id]
            found = next((i for i in stored if i["id"] == item_id), None)
            if found is None:
                raise ApiError(f"Item with id '{item_id}' not found.", None, "not_found", status=404)
            if method == "DELETE":
                stored.remove(found)
                return Reply(json=dict(conversation))
            return Reply(json=found)

    # -- responses.create(conversation=...) --------------------------------------------------------
    def respond(self, call: Call, answer: Answer) -> Reply:
        """Answer with the conversation's items in front of ``input``; append the input and the output to it."""
        body = call.body
        named = body.get("conversation")
        if named is None:
            return answer(call)
        if body.get("previous_response_id") is not None:
            raise ApiError("Mutually exclusive parameters: Ensure you are only providing one of: "
                           "'previous_response_id' or 'conversation'.", "conversation",
                           "mutually_exclusive_parameters")
        conversation_id = named.get("id") if isinstance(named, dict) else named
        if not isinstance(conversation_id, str):
            raise invalid("conversation", "must be a conversation id or {'id': ...}.")
        given = body.get("input")
        given = [{"role": "user", "content": given}] if isinstance(given, str) else given
        with self.lock:
            self._get(conversation_id)
            history = list(self.items[conversation_id])
        new = self._new_items(call, given, "input") if isinstance(given, list) else []
        inner = Call(call.path, {k: v for k, v in body.items() if k != "conversation"} | {"input": history + new},
                     call.occurrence, call.headers)
        reply = answer(inner)
        tag = {"id": conversation_id}
        if reply.events is None:
            reply.json["conversation"] = tag
            self._append(conversation_id, new + reply.json["output"])
            return reply
        reply.events = self._stream(conversation_id, tag, new, reply.events)
        return reply

    def _append(self, conversation_id: str, items: list[dict[str, Any]]) -> None:
        with self.lock:
            if conversation_id in self.items:
                self.items[conversation_id] += items

    def _stream(self, conversation_id: str, tag: dict[str, str], new: list[dict[str, Any]],
                events: Iterator[tuple[str | None, Any]]) -> Iterator[tuple[str | None, Any]]:
        for name, data in events:
            if isinstance(data, dict) and isinstance(data.get("response"), dict):
                data["response"]["conversation"] = tag
                if data["type"] in ("response.completed", "response.incomplete"):
                    self._append(conversation_id, new + data["response"]["output"])
            yield name, data


def page(items: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    """A ``ConversationItemList``."""
    return {"object": "list", "data": items, "first_id": items[0]["id"] if items else "",
            "last_id": items[-1]["id"] if items else "", "has_more": has_more}
