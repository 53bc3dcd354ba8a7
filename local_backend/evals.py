"""The Evals API (``/v1/evals``, runs and output items), graded by the local backend.

An eval is a data schema (``data_source_config`` of type ``custom``: the JSON schema of one ``item``) and
``testing_criteria`` (graders). A run grades a data source against them:

- ``jsonl`` with ``file_content`` (or a ``file_id`` uploaded to this server): rows of ``{"item", "sample"}``;
- ``responses`` / ``completions``: rows of ``{"item"}``, each sampled from a model with ``input_messages`` (a
  template over ``{{item.*}}``) by the same engines as a direct ``/v1/responses`` or ``/v1/chat/completions`` call.

Graders, and what computes them here:

- ``string_check`` (``eq``, ``ne``, ``like`` = contains, ``ilike`` = contains ignoring case): computed exactly;
- ``text_similarity``: ``fuzzy_match`` is :class:`difflib.SequenceMatcher`'s ratio (OpenAI's own fuzzy
  match may score differently), ``cosine`` is the cosine of the local embedding model's vectors; the other
  metrics (bleu, gleu, meteor, rouge_*) need libraries the backend's environment lacks: a 400;
- ``score_model``: the grader's prompt is answered by the local chat model under a JSON grammar
  (``{"result": number}``); the score is a 135M model's, and each result's ``sample`` names that model.

The work happens while you poll, like batches: a new run is ``queued``; each ``GET`` of it moves it on
(``in_progress``, then :data:`ITEMS_PER_POLL` more items graded per poll) until ``completed``, so the number of
polls, and therefore a recording, is the same on every run.

Shapes follow ``openai.types.evals`` (the SDK's types are the spec): there ``error`` of a run and of a sample is
a required object, so an answer without an error carries ``{"code": "", "message": ""}``.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import threading
from collections.abc import Callable
from typing import Any

from .common import CREATED, ApiError, Call, Reply, check_known, invalid, unsupported
from .fixtures import FileStore

ITEMS_PER_POLL = 8
NO_ERROR = {"code": "", "message": ""}
Runner = Callable[[str, dict[str, Any], int], dict[str, Any]]  # (url, body, item index) -> response JSON

TEMPLATE = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")
SCHEMA_WORDS = {"type", "properties", "required", "enum", "const", "items", "additionalProperties",
                "description", "title"}
JSON_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "number": (int, float), "integer": (int,),
                                           "boolean": (bool,), "object": (dict,), "array": (list,),
                                           "null": (type(None),)}
METRICS = {"fuzzy_match", "cosine"}
SCORE_NOTE = "score_model grades come from the local chat model (a 135M model), not from the model named"


# -- JSON schema (the subset an item schema may use here) -------------------------------------------------
def check_schema(schema: Any, where: str) -> None:
    """Reject a schema keyword this backend would not enforce, rather than ignore it."""
    if not isinstance(schema, dict):
        raise invalid(where, "must be a JSON schema object.")
    for word in schema:
        if word not in SCHEMA_WORDS:
            raise unsupported(f"{where}.{word}", f"the local backend validates only {', '.join(sorted(SCHEMA_WORDS))}.")
    for name, sub in (schema.get("properties") or {}).items():
        check_schema(sub, f"{where}.properties.{name}")
    if isinstance(schema.get("items"), dict):
        check_schema(schema["items"], f"{where}.items")


def schema_problem(value: Any, schema: dict[str, Any], path: str) -> str | None:
    """Why ``value`` does not match ``schema`` (naming the field), or None."""
    kinds = schema.get("type")
    if kinds is not None:
        names = [kinds] if isinstance(kinds, str) else list(kinds)
        ok = any(isinstance(value, JSON_TYPES.get(k, ())) and not (k in ("number", "integer") and
                                                                   isinstance(value, bool)) for k in names)
        if not ok:
            return f"{path} should be {' or '.join(names)}, got {json.dumps(value)}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{path} should be one of {json.dumps(schema['enum'])}, got {json.dumps(value)}"
    if "const" in schema and value != schema["const"]:
        return f"{path} should be {json.dumps(schema['const'])}, got {json.dumps(value)}"
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for name in schema.get("required") or []:
            if name not in value:
                return f"{path} is missing the required field '{name}'"
        if schema.get("additionalProperties") is False:
            extra = sorted(set(value) - set(props))
            if extra:
                return f"{path} has a field the schema does not define: '{extra[0]}'"
        for name, sub in props.items():
            if name in value and (problem := schema_problem(value[name], sub, f"{path}.{name}")):
                return problem
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, element in enumerate(value):
            if problem := schema_problem(element, schema["items"], f"{path}[{i}]"):
                return problem
    return None


def defines(schema: dict[str, Any], dotted: list[str]) -> bool:
    """Whether ``schema`` defines the nested field ``dotted`` (a schema without properties defines anything)."""
    for part in dotted:
        props = schema.get("properties")
        if props is None:
            return schema.get("type") in (None, "object")
        if part not in props:
            return False
        schema = props[part]
    return True


# -- templates ---------------------------------------------------------------------------------------------
def references(value: Any) -> list[str]:
    """Every ``{{namespace.field}}`` in a string or in a list of messages."""
    if isinstance(value, str):
        return TEMPLATE.findall(value)
    if isinstance(value, list):
        return [ref for element in value for ref in references(element)]
    if isinstance(value, dict):
        return [ref for key in ("content", "text") if key in value for ref in references(value[key])]
    return []


def check_references(value: Any, namespaces: dict[str, dict[str, Any] | None], where: str) -> None:
    """A 400 naming ``where`` when a template refers to a field the namespaces do not define."""
    for ref in references(value):
        space, *field = ref.split(".")
        if space not in namespaces:
            raise invalid(where, f"'{{{{{ref}}}}}' refers to the namespace '{space}'; use "
                                 f"{' or '.join(repr(n) for n in namespaces)}.")
        schema = namespaces[space]
        if schema is None:
            raise invalid(where, f"'{{{{{ref}}}}}' refers to the sample, but this eval's data has none "
                                 "(set include_sample_schema, or run with a data source that samples a model).")
        if field and not defines(schema, field):
            raise invalid(where, f"'{{{{{ref}}}}}' refers to a field that item_schema does not define: "
                                 f"'{'.'.join(field)}'.")


def render(text: str, row: dict[str, Any]) -> str:
    """Fill ``{{item.x}}`` / ``{{sample.output_text}}``; a value the row lacks raises KeyError naming it."""

    def fill(match: re.Match[str]) -> str:
        value: Any = row
        for part in match[1].split("."):
            if not isinstance(value, dict) or part not in value:
                raise KeyError(match[1])
            value = value[part]
        return value if isinstance(value, str) else json.dumps(value)

    return TEMPLATE.sub(fill, text)


def content_text(content: Any) -> str:
    """A grader or template message's content (a string, or input_text/output_text parts) as text."""
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else [content]
    texts = [p.get("text", "") for p in parts if isinstance(p, dict) and p.get("type") in ("input_text", "output_text")]
    if len(texts) != len(parts):
        raise unsupported("content", "only text content can be graded offline.")
    return "".join(texts)


# -- graders -----------------------------------------------------------------------------------------------
def check_criteria(criteria: Any, namespaces: dict[str, dict[str, Any] | None]) -> list[dict[str, Any]]:
    """The testing criteria, validated: known graders, honoured parameters, templates over defined fields."""
    if not isinstance(criteria, list) or not criteria:
        raise invalid("testing_criteria", "must be a non-empty list of graders.")
    names = set()
    for i, grader in enumerate(criteria):
        where = f"testing_criteria[{i}]"
        kind = grader.get("type") if isinstance(grader, dict) else None
        if kind not in ("string_check", "text_similarity", "score_model"):
            raise unsupported(f"{where}.type", f"{kind!r} graders are not available offline; use string_check, "
                                               "text_similarity or score_model.")
        if not isinstance(grader.get("name"), str) or grader["name"] in names:
            raise invalid(f"{where}.name", "every grader needs a name of its own.")
        names.add(grader["name"])
        if kind == "string_check":
            check_known(grader, {"type", "name", "input", "reference", "operation"}, "string_check graders")
            if grader.get("operation") not in ("eq", "ne", "like", "ilike"):
                raise invalid(f"{where}.operation", "must be one of 'eq', 'ne', 'like', 'ilike'.")
        elif kind == "text_similarity":
            check_known(grader, {"type", "name", "input", "reference", "evaluation_metric", "pass_threshold"},
                        "text_similarity graders")
            if grader.get("evaluation_metric") not in METRICS:
                raise unsupported(f"{where}.evaluation_metric", "offline, only 'fuzzy_match' (difflib's ratio) and "
                                  "'cosine' (local embeddings) are computed; bleu, gleu, meteor and rouge need "
                                  "libraries the local backend does not install.")
            if not isinstance(grader.get("pass_threshold"), (int, float)):
                raise invalid(f"{where}.pass_threshold", "is required: a number.")
        else:
            check_known(grader, {"type", "name", "input", "model", "range", "sampling_params", "pass_threshold"},
                        "score_model graders")
            if not isinstance(grader.get("input"), list) or not isinstance(grader.get("model"), str):
                raise invalid(f"{where}.input", "a score_model grader needs 'input' messages and a 'model'.")
        for key in ("input", "reference"):
            if key in grader:
                value = grader[key] if kind != "score_model" else [content_text(m.get("content")) for m in
                                                                    grader["input"]]
                check_references(value, namespaces, f"{where}.{key}")
            elif kind != "score_model":
                raise invalid(f"{where}.{key}", "is required.")
    return criteria


def similarity(metric: str, a: str, b: str, run: Runner) -> float:
    if metric == "fuzzy_match":
        return difflib.SequenceMatcher(None, a, b).ratio()
    if not a.strip() or not b.strip():
        return 0.0
    answer = run("/v1/embeddings", {"model": "text-embedding-3-small", "input": [a, b], "encoding_format": "float"}, 0)
    u, v = (d["embedding"] for d in answer["data"])
    norm = math.sqrt(sum(x * x for x in u)) * math.sqrt(sum(y * y for y in v))
    return sum(x * y for x, y in zip(u, v, strict=True)) / norm if norm else 0.0


def score_with_model(grader: dict[str, Any], row: dict[str, Any], run: Runner, index: int) -> tuple[float, dict]:
    """Ask the local chat model for a score in the grader's range, under a JSON grammar."""
    low, high = (grader.get("range") or [0, 1])[:2]
    params = grader.get("sampling_params") or {}
    messages = [{"role": m.get("role", "user"), "content": render(content_text(m.get("content")), row)}
                for m in grader["input"]]
    messages[-1]["content"] += f'\nAnswer with JSON: {{"result": <a number from {low} to {high}>}}.'
    body = {"model": grader["model"], "messages": messages,
            "max_completion_tokens": params.get("max_completions_tokens") or 40,
            "response_format": {"type": "json_schema", "json_schema": {"name": "score", "strict": True, "schema": {
                "type": "object", "properties": {"result": {"type": "number"}}, "required": ["result"],
                "additionalProperties": False}}}}
    for key in ("temperature", "top_p", "seed", "reasoning_effort"):
        if params.get(key) is not None:
            body[key] = params[key]
    answer = run("/v1/chat/completions", body, index)
    text = answer["choices"][0]["message"].get("content") or ""
    try:
        value = float(json.loads(text)["result"])
    except (ValueError, KeyError, TypeError):
        value = float(low)  # cut off before the number: the lowest score, and the sample says why
    return min(max(value, low), high), {"model": answer.get("model"), "output": text, "note": SCORE_NOTE}


def grade(grader: dict[str, Any], row: dict[str, Any], run: Runner, index: int) -> dict[str, Any]:
    """One grader's result for one row: ``{"name", "type", "score", "passed", "sample"}``."""
    kind, sample = grader["type"], None
    if kind == "score_model":
        score, sample = score_with_model(grader, row, run, index)
        passed = score >= grader.get("pass_threshold", (grader.get("range") or [0, 1])[1])
    else:
        text, reference = render(grader["input"], row), render(grader["reference"], row)
        if kind == "string_check":
            op = grader["operation"]
            hit = {"eq": text == reference, "ne": text != reference, "like": reference in text,
                   "ilike": reference.lower() in text.lower()}[op]
            score, passed = float(hit), hit
        else:
            score = similarity(grader["evaluation_metric"], text, reference, run)
            passed = score >= grader["pass_threshold"]
    return {"name": grader["name"], "type": kind, "score": round(score, 6), "passed": bool(passed), "sample": sample}


# -- the store ---------------------------------------------------------------------------------------------
def page(data: list[dict[str, Any]]) -> Reply:
    return Reply(json={"object": "list", "data": data, "has_more": False,
                       "first_id": data[0]["id"] if data else None, "last_id": data[-1]["id"] if data else None})


class Evals:
    """Evals, their runs and output items, in memory for the life of the server."""

    def __init__(self, files: FileStore, run: Runner) -> None:
        self.files, self.run = files, run
        self.evals: dict[str, dict[str, Any]] = {}
        self.runs: dict[str, dict[str, Any]] = {}
        self.pending: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self.outputs: dict[str, list[dict[str, Any]]] = {}
        self.lock = threading.Lock()

    # -- evals
    def create(self, call: Call) -> Reply:
        body = call.body
        check_known(body, {"name", "data_source_config", "testing_criteria", "metadata"}, "evals")
        config = body.get("data_source_config")
        if not isinstance(config, dict) or config.get("type") != "custom":
            kind = config.get("type") if isinstance(config, dict) else config
            raise unsupported("data_source_config.type", f"{kind!r}: offline, only 'custom' data sources exist "
                                                         "(there are no stored completions or logs to query).")
        check_known(config, {"type", "item_schema", "include_sample_schema"}, "custom data sources")
        item_schema = config.get("item_schema")
        check_schema(item_schema, "data_source_config.item_schema")
        with_sample = bool(config.get("include_sample_schema"))
        sample_schema = {"type": "object", "properties": {"model": {"type": "string"},
                         "choices": {"type": "array"}, "output_text": {"type": "string"},
                         "output_json": {"type": "object"}}} if with_sample else None
        criteria = check_criteria(body.get("testing_criteria"), {"item": item_schema, "sample": sample_schema})
        schema = {"type": "object", "properties": {"item": item_schema, **({"sample": sample_schema} if with_sample
                                                                           else {})},
                  "required": ["item", "sample"] if with_sample else ["item"]}
        eval_id = call.make_id("eval_")
        record = {"id": eval_id, "object": "eval", "created_at": CREATED, "name": body.get("name") or eval_id,
                  "metadata": body.get("metadata") or {},
                  "data_source_config": {"type": "custom", "schema": schema},
                  "testing_criteria": criteria}
        with self.lock:
            self.evals[eval_id] = record
        return Reply(json=record)

    def get(self, eval_id: str) -> dict[str, Any]:
        if eval_id not in self.evals:
            raise ApiError(f"Eval with id '{eval_id}' not found.", "eval_id", "not_found", status=404)
        return self.evals[eval_id]

    def retrieve(self, eval_id: str, delete: bool = False) -> Reply:
        with self.lock:
            record = self.get(eval_id)
            if delete:
                self.evals.pop(eval_id)
                return Reply(json={"object": "eval.deleted", "deleted": True, "eval_id": eval_id})
            return Reply(json=record)

    def list_evals(self) -> Reply:
        with self.lock:
            return page(list(self.evals.values())[::-1])

    # -- runs
    def rows(self, source: Any, where: str) -> list[dict[str, Any]]:
        """The ``{"item", "sample"}`` rows of a ``file_content`` or ``file_id`` source."""
        kind = source.get("type") if isinstance(source, dict) else None
        rows: Any
        if kind == "file_content":
            rows = source.get("content")
        elif kind == "file_id":
            content = self.files.contents.get(source.get("id"))
            if content is None:
                raise ApiError(f"Invalid file id: {source.get('id')!r} was not uploaded to this server.",
                               f"{where}.id", "invalid_file")
            try:
                rows = [json.loads(line) for line in content.decode().splitlines() if line.strip()]
            except ValueError as exc:
                raise invalid(f"{where}.id", f"the file is not JSONL ({exc}).") from None
        else:
            raise unsupported(f"{where}.type", f"{kind!r}: offline, a run reads 'file_content' or a 'file_id'.")
        if not isinstance(rows, list) or not rows:
            raise invalid(f"{where}.content", "must be a non-empty list of {'item': {...}} rows.")
        return rows

    def create_run(self, call: Call, eval_id: str) -> Reply:
        body = call.body
        check_known(body, {"data_source", "name", "metadata"}, "evals.runs")
        with self.lock:
            record = self.get(eval_id)
        source = body.get("data_source")
        kind = source.get("type") if isinstance(source, dict) else None
        if not isinstance(source, dict) or kind not in ("jsonl", "responses", "completions"):
            raise invalid("data_source.type", "must be 'jsonl', 'responses' or 'completions'.")
        rows = self.rows(source.get("source"), "data_source.source")
        item_schema = record["data_source_config"]["schema"]["properties"]["item"]
        for i, row in enumerate(rows):
            item = row.get("item") if isinstance(row, dict) else None
            if not isinstance(item, dict):
                raise invalid(f"data_source.source.content[{i}]", "every row needs an 'item' object.")
            if problem := schema_problem(item, item_schema, "item"):
                raise invalid(f"data_source.source.content[{i}].item",
                              f"row {i} does not match the eval's item_schema: {problem}.")
        model: Any = ""
        if kind != "jsonl":
            model = source.get("model")
            messages = (source.get("input_messages") or {})
            if not isinstance(model, str) or messages.get("type") != "template":
                raise invalid("data_source.input_messages", "a sampling run needs a 'model' and 'input_messages' "
                                                            "of type 'template' (no item_reference offline).")
            check_references([content_text(m.get("content")) for m in messages.get("template") or []],
                             {"item": item_schema}, "data_source.input_messages.template")
        run_id = call.make_id("evalrun_")
        run = {"id": run_id, "object": "eval.run", "eval_id": eval_id, "created_at": CREATED, "status": "queued",
               "name": body.get("name") or run_id, "model": model, "metadata": body.get("metadata") or {},
               "data_source": source, "error": dict(NO_ERROR), "report_url": f"local-backend://evals/{eval_id}/runs/{run_id}",
               "result_counts": {"total": 0, "passed": 0, "failed": 0, "errored": 0},
               "per_model_usage": [],
               "per_testing_criteria_results": [{"testing_criteria": g["name"], "passed": 0, "failed": 0}
                                                for g in record["testing_criteria"]]}
        with self.lock:
            self.runs[run_id], self.pending[run_id], self.outputs[run_id] = run, list(enumerate(rows)), []
        return Reply(json=run)

    def get_run(self, eval_id: str, run_id: str) -> dict[str, Any]:
        self.get(eval_id)
        run = self.runs.get(run_id)
        if run is None or run["eval_id"] != eval_id:
            raise ApiError(f"Eval run with id '{run_id}' not found.", "run_id", "not_found", status=404)
        return run

    def retrieve_run(self, call: Call, eval_id: str, run_id: str, action: str | None = None,
                     method: str = "GET") -> Reply:
        with self.lock:
            run = self.get_run(eval_id, run_id)
            if method == "DELETE":
                self.runs.pop(run_id)
                return Reply(json={"object": "eval.run.deleted", "deleted": True, "run_id": run_id})
            if action == "cancel":
                if run["status"] in ("queued", "in_progress"):
                    self.pending[run_id] = []
                    run["status"] = "canceled"
            elif run["status"] == "queued":
                run["status"] = "in_progress"
            elif run["status"] == "in_progress":
                self._advance(run)
            if any(g["type"] == "score_model" for g in self.evals[eval_id]["testing_criteria"]):
                call.headers["x-course-note"] = SCORE_NOTE
            return Reply(json=json.loads(json.dumps(run)))

    def list_runs(self, eval_id: str) -> Reply:
        with self.lock:
            self.get(eval_id)
            return page([r for r in self.runs.values() if r["eval_id"] == eval_id][::-1])

    def _advance(self, run: dict[str, Any]) -> None:
        """Grade the next few rows; finish the run when none are left."""
        record, pending = self.evals[run["eval_id"]], self.pending[run["id"]]
        for index, row in pending[:ITEMS_PER_POLL]:
            self.outputs[run["id"]].append(self._grade_row(run, record, index, row))
        del pending[:ITEMS_PER_POLL]
        if not pending:
            run["status"] = "completed"

    def _grade_row(self, run: dict[str, Any], record: dict[str, Any], index: int, row: dict[str, Any]) -> dict:
        source = run["data_source"]
        sample_row = {"item": row["item"], "sample": row.get("sample")}
        sample = {"error": dict(NO_ERROR), "finish_reason": "", "input": [], "max_completion_tokens": 0,
                  "model": "", "output": [], "seed": 0, "temperature": 1.0, "top_p": 1.0,
                  "usage": {"cached_tokens": 0, "completion_tokens": 0, "prompt_tokens": 0, "total_tokens": 0}}
        results: list[dict[str, Any]] = []
        status = "completed"
        try:
            if source["type"] != "jsonl":
                sample_row["sample"], sample = self._sample(run, source, row["item"], index)
            elif isinstance(row.get("sample"), dict):
                text = row["sample"].get("output_text", "")
                sample["output"] = [{"role": "assistant", "content": text}]
            results = [grade(g, sample_row, self.run, index) for g in record["testing_criteria"]]
        except KeyError as exc:
            status = "error"
            sample["error"] = {"code": "missing_field",
                               "message": f"row {index} has no value for '{{{{{exc.args[0]}}}}}'."}
        except ApiError as exc:
            status = "error"
            sample["error"] = {"code": exc.code or "error", "message": exc.message}
        counts = run["result_counts"]
        counts["total"] += 1
        if status == "error":
            counts["errored"] += 1
        else:
            passed = all(r["passed"] for r in results)
            counts["passed" if passed else "failed"] += 1
            status = "pass" if passed else "fail"
            for r, tally in zip(results, run["per_testing_criteria_results"], strict=True):
                tally["passed" if r["passed"] else "failed"] += 1
        return {"id": f"outputitem_{run['id'][8:28]}{index:04d}", "object": "eval.run.output_item",
                "created_at": CREATED, "eval_id": run["eval_id"], "run_id": run["id"], "status": status,
                "datasource_item_id": index, "datasource_item": row["item"], "results": results, "sample": sample}

    def _sample(self, run: dict[str, Any], source: dict[str, Any], item: dict[str, Any],
                index: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """Answer one item with the run's model: the ``sample`` namespace and the output item's sample."""
        params = source.get("sampling_params") or {}
        messages = [{"role": m.get("role", "user"), "content": render(content_text(m.get("content")), {"item": item})}
                    for m in source["input_messages"]["template"]]
        cap = params.get("max_completion_tokens") or 256
        if source["type"] == "responses":
            body: dict[str, Any] = {"model": source["model"], "input": messages, "max_output_tokens": cap}
            if params.get("reasoning_effort"):
                body["reasoning"] = {"effort": params["reasoning_effort"]}
            if params.get("text"):
                body["text"] = params["text"]
            url = "/v1/responses"
        else:
            body = {"model": source["model"], "messages": messages, "max_completion_tokens": cap}
            for key in ("reasoning_effort", "response_format"):
                if params.get(key):
                    body[key] = params[key]
            url = "/v1/chat/completions"
        for key in ("temperature", "top_p", "seed"):
            if params.get(key) is not None:
                body[key] = params[key]
        answer = self.run(url, body, index)
        if source["type"] == "responses":
            text = "".join(part.get("text", "") for out in answer["output"] if out["type"] == "message"
                           for part in out["content"])
            used = answer["usage"]
            prompt, completion = used["input_tokens"], used["output_tokens"]
            finish = "length" if answer["status"] == "incomplete" else "stop"
        else:
            text = answer["choices"][0]["message"].get("content") or ""
            prompt, completion = answer["usage"]["prompt_tokens"], answer["usage"]["completion_tokens"]
            finish = answer["choices"][0]["finish_reason"]
        self._count_usage(run, answer["model"], prompt, completion)
        try:
            output_json = json.loads(text)
        except ValueError:
            output_json = None
        namespace = {"model": answer["model"], "output_text": text, "output_json": output_json,
                     "choices": [{"message": {"role": "assistant", "content": text}}]}
        shown = {"error": dict(NO_ERROR), "finish_reason": finish, "input": messages, "max_completion_tokens": cap,
                 "model": answer["model"], "output": [{"role": "assistant", "content": text}],
                 "seed": body.get("seed", 0), "temperature": body.get("temperature", 1.0),
                 "top_p": body.get("top_p", 1.0),
                 "usage": {"cached_tokens": 0, "completion_tokens": completion, "prompt_tokens": prompt,
                           "total_tokens": prompt + completion}}
        return namespace, shown

    @staticmethod
    def _count_usage(run: dict[str, Any], model: str, prompt: int, completion: int) -> None:
        usage = next((u for u in run["per_model_usage"] if u["model_name"] == model), None)
        if usage is None:
            usage = {"model_name": model, "invocation_count": 0, "prompt_tokens": 0, "completion_tokens": 0,
                     "total_tokens": 0, "cached_tokens": 0}
            run["per_model_usage"].append(usage)
        usage["invocation_count"] += 1
        usage["prompt_tokens"] += prompt
        usage["completion_tokens"] += completion
        usage["total_tokens"] += prompt + completion

    # -- output items
    def output_items(self, eval_id: str, run_id: str, item_id: str | None = None) -> Reply:
        with self.lock:
            self.get_run(eval_id, run_id)
            items = self.outputs[run_id]
            if item_id is None:
                return page(items)
            for item in items:
                if item["id"] == item_id:
                    return Reply(json=item)
        raise ApiError(f"Output item with id '{item_id}' not found.", "output_item_id", "not_found", status=404)
