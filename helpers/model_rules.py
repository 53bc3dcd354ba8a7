"""What each OpenAI model family accepts: reasoning efforts, sampling parameters, endpoints.

One table, with a source and a date for every rule. The SDK does not encode these rules (its docstrings say
parameter support "can differ" for reasoning models), so they come from OpenAI's published notes as quoted in
public issue threads and docs of other SDKs. Where sources disagree, ``assumed_effort`` takes the stricter
reading: the local backend enforces it, so only calls that state what they need pass, and such calls behave
the same under either reading.

Used by the lessons (to print a model's rules), by ``helpers.model_ids`` (to warn when an override breaks a
lesson), by the local backend (to answer for the *requested* model as OpenAI would) and by the recording
checks. Stdlib only: the local backend imports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")  # the SDK's ReasoningEffort literals
SAMPLING = ("temperature", "top_p", "logprobs", "top_logprobs")
PENALTIES = ("presence_penalty", "frequency_penalty", "logit_bias")


@dataclass(frozen=True)
class Source:
    """Where a rule comes from."""

    what: str
    url: str
    date: str  # when the source said it (YYYY-MM or YYYY-MM-DD)


SPEC = Source("OpenAI API spec, ReasoningEffort description (as published in Microsoft Learn's "
              "@azure/ai-projects reference)", "https://learn.microsoft.com/en-us/javascript/api/@azure/ai-projects/"
              "reasoningeffort", "2026-12-01 (retrieved)")
TOP_P_400 = Source("400 body for top_p on gpt-5 (lfnovo/open-notebook#107)",
                   "https://github.com/lfnovo/open-notebook/issues/107", "2025-09-20")
PENALTY_400 = Source("presence_penalty rejected on gpt-5-mini (nextai-translator#1781)",
                     "https://github.com/nextai-translator/nextai-translator/issues/1781", "2025-08-08")
TEMPERATURE_1 = Source("gpt-5 accepts only temperature=1; gpt-5.1 any temperature at effort none "
                       "(BerriAI/litellm#17011)", "https://github.com/BerriAI/litellm/pull/17011", "2025-11-24")
GPT51_NONE = Source("temperature, top_p and logprobs controllable on gpt-5.1 only at effort none, citing OpenAI's "
                    "gpt-5.1 parameter-compatibility guide (vercel/ai#10940)",
                    "https://github.com/vercel/ai/pull/10940", "2025-12-07")
EFFORT_400 = Source("400 wording for an effort a model does not support (openai/openai-agents-python#2089)",
                    "https://github.com/openai/openai-agents-python/issues/2089", "2025-11")
MAX_TOKENS_400 = Source("max_tokens rejected on gpt-5.1: use max_completion_tokens (fish2018/YPrompt#26)",
                        "https://github.com/fish2018/YPrompt/issues/26", "2025-12-22")
GPT52_DEFAULT = Source("gpt-5.1+ default to effort none; -pro models take no temperature "
                       "(langchain-ai/langchain#35424)", "https://github.com/langchain-ai/langchain/pull/35424",
                       "2026-02-24")
TOP_P_52 = Source("gpt-5.2 and newer reject top_p (brainlid/langchain#428)",
                  "https://github.com/brainlid/langchain/pull/428", "2025-12-23")
MINI_NONE = Source("clients set effort none for gpt-5.4-mini when unset (livekit/agents-js#1824); minimal is "
                   "rejected, supported: none, low, medium, high, xhigh (blaxel-ai/sdk-python#144)",
                   "https://github.com/livekit/agents-js/pull/1824", "2026-06-19")
GPT54_MEDIUM = Source("gpt-5.4 supports none, low, medium, high, xhigh; medium by default in this proxy "
                      "(RayBytes/ChatMock#101)", "https://github.com/RayBytes/ChatMock/pull/101", "2026-03-19")
CHAT_LATEST = Source("gpt-5.2-chat accepts only effort medium (egoist/chatwise-releases#1257)",
                     "https://github.com/egoist/chatwise-releases/issues/1257", "2026-02-26")
PRO_RESPONSES = Source("gpt-5-pro: 'This model is only supported in v1/responses and not in v1/chat/completions.' "
                       "(egoist/chatwise-releases#1122)", "https://github.com/egoist/chatwise-releases/issues/1122",
                       "2025-10-23")
ENDPOINT_404 = Source("404s for a chat model on v1/completions and a completion model on v1/chat/completions "
                      "(hegelai/prompttools#115, egoist/chatwise-releases#1256)",
                      "https://github.com/hegelai/prompttools/issues/115", "2023-12-13")
SDK = Source("openai-python 3.57.0 types: sampling parameters documented for chat models; reasoning "
             "parameters 'only for reasoning models'", "https://github.com/openai/openai-python", "2026-12-01")


@dataclass(frozen=True)
class Rule:
    """The rules of one model family."""

    family: str
    pattern: str  # regular expression over the model id (full match)
    reasoning: bool
    efforts: tuple[str, ...] = ()  # accepted values of reasoning.effort / reasoning_effort
    default_effort: str | None = None  # what OpenAI uses when the request sets none; None = sources disagree
    assumed_effort: str | None = None  # the stricter reading the local backend applies when unset
    sampling_efforts: tuple[str, ...] = ()  # efforts at which temperature/top_p/logprobs are accepted
    top_p: bool = True  # False where a source says top_p is rejected even where temperature is accepted
    penalties: bool = False  # presence/frequency penalties and logit_bias
    verbosity: bool = False  # text.verbosity / verbosity other than "medium"
    endpoints: tuple[str, ...] = ("responses", "chat")
    sources: tuple[Source, ...] = ()
    note: str = ""

    @property
    def caps_include_reasoning(self) -> bool:
        """``max_output_tokens`` / ``max_completion_tokens`` count reasoning tokens too."""
        return self.reasoning

    def effort(self, requested: str | None) -> str | None:
        """The effort a request runs at: its own, else the default, else the stricter reading."""
        if not self.reasoning:
            return None
        return requested or self.default_effort or self.assumed_effort

    def accepts_sampling(self, effort: str | None) -> bool:
        return not self.reasoning or effort in self.sampling_efforts


RULES: tuple[Rule, ...] = (
    Rule("gpt-5 (gpt-5, -mini, -nano)", r"gpt-5(-mini|-nano)?(-\d{4}-\d{2}-\d{2})?", True,
         ("minimal", "low", "medium", "high"), "medium", sources=(SPEC, TEMPERATURE_1, TOP_P_400, PENALTY_400),
         verbosity=True, note="temperature must be 1 (or absent); shut down 2026-12-11 per the SDK"),
    Rule("o-series (o1, o3, o3-mini, o4-mini)", r"o(1|3|3-mini|4-mini)(-\d{4}-\d{2}-\d{2})?", True,
         ("low", "medium", "high"), "medium", sources=(SPEC, TOP_P_400)),
    Rule("pro models", r"(gpt-5(\.\d+)?|o1|o3)-pro(-\d{4}-\d{2}-\d{2})?", True, ("medium", "high", "xhigh"),
         None, "high", endpoints=("responses",), sources=(SPEC, GPT52_DEFAULT, PRO_RESPONSES),
         note="Responses only; gpt-5-pro supports only high; no sampling parameters at any effort"),
    Rule("chat-latest (gpt-5.1 and later)", r"gpt-5\.\d+-chat-latest", True, ("medium",), "medium",
         sources=(CHAT_LATEST,), note="a reasoning chat model with one effort"),
    Rule("gpt-5-chat-latest", r"gpt-5-chat-latest", False, penalties=True, sources=(SDK,),
         note="the non-reasoning GPT-5 chat model"),
    Rule("gpt-5.1", r"gpt-5\.1(-mini|-codex)?(-\d{4}-\d{2}-\d{2})?", True, ("none", "low", "medium", "high"),
         "none", sampling_efforts=("none",), verbosity=True, sources=(SPEC, GPT51_NONE, EFFORT_400, TEMPERATURE_1)),
    Rule("gpt-5.2 to gpt-5.5 (incl. gpt-5.4-mini, -nano)", r"gpt-5\.[2-5](-mini|-nano|-codex)?(-\d{4}-\d{2}-\d{2})?",
         True, ("none", "low", "medium", "high", "xhigh"), None, "medium", sampling_efforts=("none",), top_p=False,
         verbosity=True, sources=(GPT51_NONE, GPT52_DEFAULT, TOP_P_52, MINI_NONE, GPT54_MEDIUM),
         note="sources disagree on the default effort (none or medium) and on top_p at effort none: state the "
              "effort, and leave top_p out"),
    Rule("gpt-5.6 and gpt-6 (sol, terra, luna, astra)", r"gpt-(5\.6|6(\.\d+)?)-\w+", True,
         ("none", "low", "medium", "high", "xhigh", "max"), None, "medium", verbosity=True, sources=(SDK,),
         note="new in the SDK; no public source on its parameters yet, so no sampling parameter is assumed"),
    Rule("legacy completions (davinci-002, babbage-002, gpt-3.5-turbo-instruct)",
         r"(davinci-002|babbage-002|gpt-3\.5-turbo-instruct)(-\d{4})?", False, penalties=True,
         endpoints=("completions",), sources=(ENDPOINT_404, SDK), note="v1/completions only"),
    Rule("gpt-4.1, gpt-4o, gpt-4, gpt-3.5-turbo", r"(gpt-4\.1|gpt-4o|chatgpt-4o|gpt-4|gpt-3\.5-turbo)[\w.-]*", False,
         penalties=True, sources=(SDK,), note="not reasoning models: every sampling parameter, no reasoning effort"),
)


def rule_for(model: str | None) -> Rule | None:
    """The rules for a model id (a fine-tuned ``ft:base:...`` id follows its base), or None if unknown."""
    if not model:
        return None
    base = model.split(":")[1] if model.startswith("ft:") and model.count(":") >= 1 else model
    for rule in RULES:
        if re.fullmatch(rule.pattern, base):
            return rule
    return None


@dataclass(frozen=True)
class Violation:
    """A request OpenAI would refuse, in the shape of its error."""

    status: int
    message: str
    param: str | None
    code: str | None

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": "invalid_request_error", "param": self.param,
                          "code": self.code}}


def requested_effort(endpoint: str, body: dict[str, Any]) -> str | None:
    """The effort a request states (``reasoning.effort`` on Responses, ``reasoning_effort`` on chat)."""
    if endpoint == "responses":
        reasoning = body.get("reasoning")
        return reasoning.get("effort") if isinstance(reasoning, dict) else None
    return body.get("reasoning_effort") if endpoint == "chat" else None


def _listed(values: tuple[str, ...]) -> str:
    quoted = [f"'{v}'" for v in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f", and {quoted[-1]}"


def _sampling_in(endpoint: str, body: dict[str, Any]) -> list[str]:
    """The sampling parameters a request sets away from their defaults, as OpenAI names them."""
    found = [name for name in ("temperature", "top_p") if body.get(name) is not None and body.get(name) != 1]
    if endpoint == "chat":
        found += [n for n in ("logprobs", "top_logprobs") if body.get(n) not in (None, False)]
    if endpoint == "responses":
        found += ["top_logprobs"] if body.get("top_logprobs") is not None else []
        found += ["include"] if "message.output_text.logprobs" in (body.get("include") or []) else []
    return found


def check(endpoint: str, body: dict[str, Any]) -> Violation | None:
    """The error OpenAI gives this request for its model (``endpoint``: responses, chat or completions)."""
    model = body.get("model")
    rule = rule_for(model if isinstance(model, str) else None)
    if rule is None:
        return None
    if endpoint not in rule.endpoints:
        if endpoint == "completions":
            text = "This is a chat model and not supported in the v1/completions endpoint. Did you mean to use " \
                   "v1/chat/completions?"
        elif "completions" in rule.endpoints:
            text = "This is not a chat model and thus not supported in the v1/chat/completions endpoint. Did you " \
                   "mean to use v1/completions?"
        else:
            text = "This model is only supported in v1/responses and not in v1/chat/completions."
        return Violation(404, text, "model", None)
    effort_param = "reasoning.effort" if endpoint == "responses" else "reasoning_effort"
    requested = requested_effort(endpoint, body)
    if requested is not None and not rule.reasoning:
        return Violation(400, f"Unsupported parameter: '{effort_param}' is not supported with this model.",
                         effort_param, "unsupported_parameter")
    if requested is not None and requested not in rule.efforts:
        return Violation(400, f"Unsupported value: '{requested}' is not supported with the '{model}' model. "
                              f"Supported values are: {_listed(rule.efforts)}.", effort_param, "unsupported_value")
    effort = rule.effort(requested)
    why = ""
    if rule.reasoning and requested is None and rule.default_effort is None:
        why = (f" [course rule table: the request sets no reasoning effort; sources disagree on {model}'s default, "
               f"so the stricter reading ('{effort}') applies. Set the effort explicitly.]")
    for name in _sampling_in(endpoint, body):
        if name == "top_p" and not rule.top_p:
            return Violation(400, f"Unsupported parameter: 'top_p' is not supported with this model.{why}",
                             "top_p", "unsupported_parameter")
        if rule.accepts_sampling(effort):
            continue
        if name == "temperature":
            text = (f"Unsupported value: 'temperature' does not support {body['temperature']} with this model. "
                    "Only the default (1) value is supported.")
            return Violation(400, text + why, "temperature", "unsupported_value")
        return Violation(400, f"Unsupported parameter: '{name}' is not supported with this model.{why}", name,
                         "unsupported_parameter")
    if not rule.penalties:
        for name in PENALTIES:
            if body.get(name) is not None:
                return Violation(400, f"Unsupported parameter: '{name}' is not supported with this model.", name,
                                 "unsupported_parameter")
    if endpoint == "chat" and rule.reasoning and body.get("max_tokens") is not None:
        return Violation(400, "Unsupported parameter: 'max_tokens' is not supported with this model. "
                              "Use 'max_completion_tokens' instead.", "max_tokens", "unsupported_parameter")
    verbosity = (body.get("text") or {}).get("verbosity") if endpoint == "responses" else body.get("verbosity")
    if verbosity not in (None, "medium") and not rule.verbosity:
        param = "text.verbosity" if endpoint == "responses" else "verbosity"
        return Violation(400, f"Unsupported value: '{verbosity}' is not supported with this model. Supported "
                              "values are: 'medium'.", param, "unsupported_value")
    return None


def describe(model: str) -> str:
    """A few lines a lesson prints: the family, efforts, default, sampling, endpoints and sources."""
    rule = rule_for(model)
    if rule is None:
        return f"{model}: not in the course's rule table (helpers/model_rules.py); check OpenAI's model page."
    lines = [f"{model}: {rule.family}", f"  reasoning model: {'yes' if rule.reasoning else 'no'}"]
    if rule.reasoning:
        default = rule.default_effort or f"disputed (the local backend assumes '{rule.assumed_effort}')"
        lines += [f"  efforts: {', '.join(rule.efforts)}; default: {default}",
                  "  temperature/top_p/logprobs: "
                  + (f"only at effort {', '.join(rule.sampling_efforts)}" if rule.sampling_efforts else "rejected")
                  + ("" if rule.top_p else " (top_p: rejected)"),
                  "  token caps include reasoning tokens: yes"]
    lines += [f"  penalties and logit_bias: {'accepted' if rule.penalties else 'rejected'}",
              f"  endpoints: {', '.join(rule.endpoints)}"]
    if rule.note:
        lines.append(f"  note: {rule.note}")
    lines += [f"  source: {s.what}, {s.date}" for s in rule.sources]
    return "\n".join(lines)
