"""What the course chatbot does with a question: pick the lessons it is about, ask the model, say who answered.

This is the part worth copying: a plain ``client.responses.create(...)`` call whose ``instructions`` carry the
grounding context (here, the lessons that match the question), made on the server so the key never reaches a browser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from helpers.tooling.lessons import Lesson, short_title

MAX_LESSONS = 3  # lessons put into the instructions for one question
MAX_OUTPUT_TOKENS = 120

# The questions the page suggests. They are the ones recorded in data/recordings/webapp.json (make record-webapp),
# so in replay mode they are the ones that can be answered.
SAMPLE_QUESTIONS = [
    "Which lesson explains tokens and what they cost?",
    "How do I run the course without an API key?",
    "Which lesson covers retries and rate limits?",
]

INSTRUCTIONS = """\
You answer questions about a Jupyter course that teaches the OpenAI Python SDK.
Use only the lessons listed below. Name the lesson by its number and title.
If the lessons below do not answer the question, say that the course does not cover it yet.
Answer in at most three sentences.

Lessons:
{lessons}"""

_STOPWORDS = {
    "a", "about", "an", "and", "any", "api", "are", "be", "can", "course", "covers", "cover", "do", "does", "explain",
    "explains", "for", "from", "how", "i", "in", "is", "it", "lesson", "lessons", "me", "my", "of", "on", "openai",
    "or", "please", "python", "sdk", "show", "shows", "teach", "teaches", "tell", "that", "the", "there", "this", "to",
    "use", "what", "when", "where", "which", "who", "why", "will", "with", "without", "you", "your", "they", "them",
    "their", "its", "we", "our", "us",
}


def normalise(question: str) -> str:
    """The question as it is sent and recorded: surrounding and repeated whitespace removed."""
    return " ".join(question.split())


def terms(text: str) -> set[str]:
    """Lower-case content words, crudely stemmed (``tokens`` and ``token`` match)."""
    words = set()
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        if word in _STOPWORDS or len(word) < 2:
            continue
        if len(word) > 5 and word.endswith("ing"):
            word = word[:-3]
        elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        words.add(word)
    return words


def relevant(question: str, catalogue: list[Lesson], limit: int = MAX_LESSONS) -> list[Lesson]:
    """The lessons a question is about: title words count three times, objectives and sections once.

    Keeps those scoring at least half the best score, at most ``limit``; with no match at all, every lesson (and
    ``context`` then gives only their titles), so the model can still say what the course covers.
    """
    wanted = terms(question)
    scored = []
    for lesson in catalogue:
        body = terms(" ".join([lesson.summary, *lesson.objectives, *lesson.sections]))
        score = sum(3 * (t in terms(lesson.title)) + (t in body) for t in wanted)
        scored.append((score, lesson))
    best = max((score for score, _ in scored), default=0)
    if best == 0:
        return list(catalogue)
    ranked = sorted((item for item in scored if item[0] * 2 >= best), key=lambda item: -item[0])
    return [lesson for _, lesson in ranked[:limit]]


def context(lessons: list[Lesson]) -> str:
    """The grounding text for ``instructions``: one short paragraph per lesson (titles only for the whole table)."""
    if len(lessons) > MAX_LESSONS:
        return "\n".join(f"- Lesson {x.number}, {short_title(x)} ({x.notebook})" for x in lessons)
    lines = []
    for lesson in lessons:
        sections = "; ".join(lesson.sections)
        lines.append(f"- Lesson {lesson.number}, {short_title(lesson)} ({lesson.notebook}): {lesson.summary}"
                     + (f" Sections: {sections}." if sections else ""))
    return "\n".join(lines)


@dataclass
class Answer:
    """What the page shows: the answer, the model that gave it, and the lessons it was grounded on."""

    text: str
    model: str
    lessons: list[Lesson]
    cut: bool = False  # stopped by max_output_tokens

    def to_json(self) -> dict[str, Any]:
        return {
            "answer": self.text,
            "model": self.model,
            "cut": self.cut,
            "lessons": [{"number": x.number, "title": short_title(x), "notebook": x.notebook} for x in self.lessons],
        }


def ask(client: Any, model: str, question: str, catalogue: list[Lesson]) -> Answer:
    """Ask ``model`` one question about the course, grounded on the lessons it is about."""
    used = relevant(question, catalogue)
    response = client.responses.create(
        model=model,
        instructions=INSTRUCTIONS.format(lessons=context(used)),
        input=question,
        reasoning={"effort": "none"},  # a short grounded answer needs no reasoning; the cap stays for the answer
        max_output_tokens=MAX_OUTPUT_TOKENS,
    )
    return Answer(text=response.output_text.strip(), model=response.model, lessons=used,
                  cut=getattr(response, "status", None) == "incomplete")
