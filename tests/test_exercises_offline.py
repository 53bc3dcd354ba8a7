"""Exercises that call the API, done offline: replay answers the lesson, the local backend the learner's own call.

Each lesson runs in a real kernel in replay mode with the fallback on, pointed at the local backend on test engines
(deterministic; embeddings as wide as the recorded all-MiniLM-L6-v2 vectors, so they compare with them; a chat
engine that writes sentences and honours ``stop``). The exercise cells hold a learner's attempt (not the worked
solution's request, so it is not in any recording); the lesson's own self-check must judge that attempt: solved for
a right one, "Not yet" for a wrong one. Every other cell still replays from the recording.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import nbformat
import pytest

from helpers.paths import NOTEBOOKS
from local_backend import Backend
from local_backend.engines import Engines

from .fake_engines import FakeEmbedder, FakeText, FakeVoice, FakeWhisper
from .test_kernel_errors import run

NOTE = "answer from the course's local backend"
SENTENCES = ["1. Water", " bottle.", " 2. Map.", " 3. Snacks.", " 4. Hat.", " 5. Boots."]


class Sentences(FakeText):
    """Writes a numbered list of short sentences; stops before a ``stop`` sequence, as real engines do."""

    def _pieces(self, prompt_words: int, params: dict[str, Any], schema: Any) -> Iterator[dict[str, Any]]:
        text, stops = "", params.get("stop") or []
        for piece in SENTENCES:
            if any(stop in text + piece for stop in stops):
                yield {"finish_reason": "stop", "prompt_tokens": prompt_words, "completion_tokens": len(text.split())}
                return
            text += piece
            yield {"text": piece, "logprobs": None}
        yield {"finish_reason": "stop", "prompt_tokens": prompt_words, "completion_tokens": len(text.split())}


class WideEmbedder(FakeEmbedder):
    dimensions = 384  # all-MiniLM-L6-v2's, the model the lessons' embeddings were recorded from


def engines() -> Engines:
    factories: dict[str, Any] = {"chat": Sentences, "completion": FakeText, "embedding": WideEmbedder,
                                 "transcription": FakeWhisper, "speech": FakeVoice}
    for role, factory in factories.items():
        factory.model_name = f"Test-{role}"
    return Engines(factories)


@pytest.fixture(scope="module")
def local() -> Iterator[Backend]:
    server = Backend(engines(), port=0)
    server.start()
    yield server
    server.stop()


HIKE_RIGHT = """hike = client.chat.completions.create(
    model=models.chat,
    reasoning_effort="none",
    messages=[{"role": "user", "content": "A numbered list of what to pack for a walk, please."}],
    stop=["4."],
    max_completion_tokens=100,
)
print(hike.choices[0].message.content)"""
FIRST_RIGHT = """first_part = ""
with client.responses.stream(model=models.chat, input="How do clouds form?", max_output_tokens=100) as stream:
    for event in stream:
        if event.type == "response.output_text.delta":
            first_part += event.delta
            if "." in first_part:
                break
print(repr(first_part))"""
MUSIC = """music_vector = np.array(client.embeddings.create(model=models.embedding, input="{word}").data[0].embedding)
music_top3 = words["text"].iloc[top_k(word_vectors @ music_vector, 3)].tolist()"""
WISH = """wish = client.embeddings.create(model=models.embedding, input="dark roast, no acid")
wish_vector = np.array(wish.data[0].embedding)
wish_top3 = coffees["name"].iloc[top_k(coffee_vectors @ wish_vector, 3)].tolist()"""
DESCRIBED = """descriptions = {label: f"news about {label.lower()}" for label in labels}
texts = [descriptions[label] for label in labels]
described = client.embeddings.create(model=models.embedding, input=texts)
description_vectors = np.array([d.embedding for d in described.data])
better_predictions = [labels[i] for i in (headline_vectors @ description_vectors.T).argmax(axis=1)]
better_accuracy = accuracy_score(news["category"], better_predictions)"""
FLAT = """flat = client.embeddings.create(model=models.embedding, input="My tyre is flat.")
flat_vector = np.array(flat.data[0].embedding)
rows = db.execute("select source from chunks where embedding match ? and k = 2 order by distance",
                  (flat_vector.astype(np.float32).tobytes(),)).fetchall()
flat_sources = [source for (source,) in rows]"""

# lesson -> (the first line of an exercise's empty attempt cell, [(attempt, what its check must print)])
CASES: dict[str, list[tuple[str, list[tuple[str, str]]]]] = {
    "03_parameters": [("hike = None", [
        (HIKE_RIGHT.replace(', stop=["4."]', "").replace('    stop=["4."],\n', ""), "Not yet."),
        (HIKE_RIGHT, "Exercise 3 solved.")])],
    "04_streaming": [("first_part = None", [
        (FIRST_RIGHT.replace("            if \".\" in first_part:\n                break\n", ""), "Not yet."),
        (FIRST_RIGHT, "Exercise 3 solved.")])],
    "07_embeddings": [("music_vector = None", [
        (MUSIC.format(word="guitar") + "[::-1]", "Not yet."), (MUSIC.format(word="guitar"), "Exercise 3 solved:")])],
    "08_embedding_apps": [("wish_vector = None", [(WISH, "Exercise 1 solved:")]),
                          ("descriptions = None", [(DESCRIBED, "Exercise 2 solved:")]),
                          ("flat_vector = None", [(FLAT, "Exercise 3 solved:")])],
}


def cells_with_attempts(lesson: str) -> tuple[list[str], list[tuple[int, str]]]:
    """The lesson's code cells with each attempt (then the lesson's own check again) in place of an empty cell;
    where each check runs and what it must print."""
    sources = [c.source for c in nbformat.read(NOTEBOOKS / f"{lesson}.ipynb", as_version=4).cells
               if c.cell_type == "code"]
    cells: list[str] = []
    expected: list[tuple[int, str]] = []
    attempts = dict(CASES[lesson])
    skip = False
    for number, source in enumerate(sources):
        if skip:
            skip = False
            continue
        first = source.splitlines()[0] if source else ""
        found = next((tries for start, tries in attempts.items() if first.startswith(start)), None)
        if found is None:
            cells.append(source)
            continue
        check = sources[number + 1]
        for attempt, says in found:
            cells += [attempt, check]
            expected.append((len(cells) - 1, says))
        skip = True
    assert len(expected) == sum(len(tries) for _, tries in CASES[lesson]), "an exercise cell was not found"
    return cells, expected


@pytest.mark.parametrize("lesson", sorted(CASES))
def test_exercises_that_call_the_api_are_judged_on_the_learners_own_answer(lesson: str, local: Backend) -> None:
    cells, expected = cells_with_attempts(lesson)
    ran = run(cells, COURSE_BACKEND="replay", COURSE_FALLBACK="1", COURSE_LOCAL_BACKEND_URL=local.base_url)
    failed = [(i, cell.outputs) for i, (cell, reply) in enumerate(ran) if reply["content"]["status"] != "ok"]
    assert not failed, failed[:1]
    for index, says in expected:
        attempt_out = "".join(o.get("text", "") for o in ran[index - 1][0].outputs)
        check_out = "".join(o.get("text", "") for o in ran[index][0].outputs)
        assert check_out.startswith(says), (index, cells[index - 1], attempt_out, check_out)
        assert NOTE in attempt_out  # the attempt's answer came from the local backend, labelled
    noted = [i for i, (cell, _) in enumerate(ran) if NOTE in "".join(o.get("text", "") for o in cell.outputs)]
    assert noted == [index - 1 for index, _ in expected]  # every other cell replayed from the recording
