"""The local backend's adapter, driven by the real openai SDK against fake engines (no weights, fast).

The last test is a smoke test of the real models; it runs only with LOCAL_BACKEND_SMOKE=1 and an
installed .venv-local (``make local-backend-test``).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest
from openai import OpenAI
from pydantic import BaseModel

from local_backend import Backend
from local_backend.common import MAX_TOKENS_CAP

from .fake_engines import PLAIN, REASONING, fake_engines

ROOT = Path(__file__).resolve().parents[1]
USER = [{"role": "user", "content": "Say hello"}]
# The adapter tests use PLAIN (not a reasoning model): they are about mechanics. The reasoning rules and their
# emulation (REASONING, the default chat model) have tests of their own at the end.


def raw(backend: Backend, path: str, body: dict, method: str = "POST") -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", backend.port, timeout=10)
    conn.request(method, "/v1" + path, body=json.dumps(body), headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def engine(backend: Backend, role: str = "chat"):  # noqa: ANN201 - a fake engine
    return backend.engines.get(role)


# -- chat ------------------------------------------------------------------------------------------
def test_chat_names_the_model_that_answered(client: OpenAI) -> None:
    response = client.chat.completions.with_raw_response.create(model=PLAIN, messages=USER)
    reply = response.parse()
    assert reply.model == "FakeChat-1M"
    assert response.headers["x-course-model"] == "FakeChat-1M"
    assert reply.choices[0].message.content
    assert reply.usage.prompt_tokens == 2 and reply.usage.completion_tokens == 6


def test_n_gives_choices_with_seeds_seed_plus_i(client: OpenAI, backend: Backend) -> None:
    reply = client.chat.completions.create(model=PLAIN, messages=USER, n=3, seed=7)
    assert [c.index for c in reply.choices] == [0, 1, 2]
    assert [call["seed"] for call in engine(backend).calls[-3:]] == [7, 8, 9]
    assert reply.usage.completion_tokens == 18 and reply.usage.prompt_tokens == 2
    again = client.chat.completions.create(model=PLAIN, messages=USER, n=1, seed=8)
    assert again.choices[0].message.content == reply.choices[1].message.content


def test_max_completion_tokens_maps_and_everything_is_capped(client: OpenAI, backend: Backend) -> None:
    reply = client.chat.completions.create(model=PLAIN, messages=USER, max_completion_tokens=2)
    assert engine(backend).calls[-1]["max_tokens"] == 2
    assert reply.choices[0].finish_reason == "length" and reply.usage.completion_tokens == 2
    client.chat.completions.create(model=PLAIN, messages=USER, max_tokens=10**6)
    assert engine(backend).calls[-1]["max_tokens"] == MAX_TOKENS_CAP
    client.chat.completions.create(model=PLAIN, messages=USER)
    assert engine(backend).calls[-1]["max_tokens"] <= MAX_TOKENS_CAP


def test_stream_with_usage_and_n(client: OpenAI) -> None:
    chunks = list(client.chat.completions.create(model=PLAIN, messages=USER, n=2, stream=True,
                                                 stream_options={"include_usage": True}))
    assert all(c.usage is None for c in chunks[:-1])
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 12
    texts = {0: "", 1: ""}
    for c in chunks[:-1]:
        for choice in c.choices:
            texts[choice.index] += choice.delta.content or ""
    assert texts[0] and texts[1]
    assert {c.choices[0].finish_reason for c in chunks[:-1] if c.choices[0].finish_reason} == {"stop"}
    plain = list(client.chat.completions.create(model=PLAIN, messages=USER, stream=True))
    assert all(c.usage is None for c in plain)


class City(BaseModel):
    name: str
    population: int


def test_parse_with_json_schema(client: OpenAI, backend: Backend) -> None:
    reply = client.chat.completions.parse(model=PLAIN, messages=USER, response_format=City)
    assert reply.choices[0].message.parsed == City(name="Paris", population=3)
    assert engine(backend).calls[-1]["schema"]["required"] == ["name", "population"]


def test_forced_and_auto_tool_calls(client: OpenAI) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city",
                                               "parameters": {"type": "object",
                                                              "properties": {"city": {"type": "string"}},
                                                              "required": ["city"]}}},
             {"type": "function", "function": {"name": "get_time", "description": "Clock time",
                                               "parameters": {"type": "object", "properties": {}}}}]
    forced = client.chat.completions.create(model=PLAIN, messages=USER, tools=tools,
                                            tool_choice={"type": "function", "function": {"name": "get_weather"}})
    call = forced.choices[0].message.tool_calls[0]
    assert forced.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}
    asked = [{"role": "user", "content": "What is the weather in Paris?"}]
    auto = client.chat.completions.with_raw_response.create(model=PLAIN, messages=asked, tools=tools)
    assert auto.parse().choices[0].message.tool_calls[0].function.name == "get_weather"
    assert "keyword router" in auto.headers["x-course-note"]
    chatty = client.chat.completions.create(model=PLAIN, messages=USER, tools=tools)
    assert chatty.choices[0].message.tool_calls is None and chatty.choices[0].message.content
    streamed = list(client.chat.completions.create(model=PLAIN, messages=asked, tools=tools, stream=True))
    args = "".join(c.choices[0].delta.tool_calls[0].function.arguments or ""
                   for c in streamed if c.choices and c.choices[0].delta.tool_calls)
    assert json.loads(args) == {"city": "Paris"}


def test_parallel_tool_calls_call_every_matching_function(client: OpenAI) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city",
                                               "parameters": {"type": "object",
                                                              "properties": {"city": {"type": "string"}},
                                                              "required": ["city"]}}},
             {"type": "function", "function": {"name": "get_bitcoin_price", "description": "Bitcoin price",
                                               "parameters": {"type": "object",
                                                              "properties": {"currency": {"type": "string"}}}}}]
    asked = [{"role": "user", "content": "What is the weather in Paris, and the bitcoin price?"}]  # 1 and 2 words
    both = client.chat.completions.with_raw_response.create(model=PLAIN, messages=asked, tools=tools)
    calls = both.parse().choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["get_bitcoin_price", "get_weather"]  # best match first
    assert len({c.id for c in calls}) == 2 and json.loads(calls[1].function.arguments) == {"city": "Paris"}
    assert "called get_bitcoin_price, get_weather" in both.headers["x-course-note"]
    one = client.chat.completions.create(model=PLAIN, messages=asked, tools=tools, parallel_tool_calls=False)
    assert [c.function.name for c in one.choices[0].message.tool_calls] == ["get_bitcoin_price"]
    chunks = list(client.chat.completions.create(model=PLAIN, messages=asked, tools=tools, stream=True))
    deltas = [t for c in chunks if c.choices and c.choices[0].delta.tool_calls for t in c.choices[0].delta.tool_calls]
    assert sorted({t.index for t in deltas}) == [0, 1] and len({t.id for t in deltas if t.id}) == 2
    responses_tools = [{"type": "function", **t["function"]} for t in tools]
    answer = client.responses.create(model=PLAIN, input=asked[0]["content"], tools=responses_tools)
    assert [(o.type, o.name) for o in answer.output] == [("function_call", "get_bitcoin_price"),
                                                         ("function_call", "get_weather")]
    assert len({o.call_id for o in answer.output}) == 2
    with client.responses.stream(model=PLAIN, input=asked[0]["content"], tools=responses_tools) as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert [e.output_index for e in events if e.type == "response.output_item.done"] == [0, 1]
    assert [o.arguments for o in final.output] == [o.arguments for o in answer.output]
    outputs = [{"type": "function_call_output", "call_id": o.call_id, "output": "ok"} for o in answer.output]
    reply = client.responses.create(model=PLAIN, tools=responses_tools, input=[
        asked[0], *[o.model_dump(exclude_none=True) for o in answer.output], *outputs])
    assert reply.output[0].type == "message"


# -- determinism -----------------------------------------------------------------------------------
def test_identical_requests_give_identical_bytes_across_servers() -> None:
    body = {"model": "gpt-5.4-mini", "messages": USER, "temperature": 1}
    answers = []
    for _ in range(2):
        server = Backend(fake_engines(), port=0)
        server.start()
        try:
            first, second = raw(server, "/chat/completions", body), raw(server, "/chat/completions", body)
        finally:
            server.stop()
        answers.append((first[2], second[2], first[1]["x-request-id"]))
    assert answers[0] == answers[1]  # a fresh server replays the same sequence, byte for byte
    first_id, second_id = (json.loads(a)["id"] for a in answers[0][:2])
    assert first_id.startswith("chatcmpl-") and first_id != second_id  # a repeat is a new call, as with OpenAI


def test_seeded_repeats_are_identical(client: OpenAI) -> None:
    a = client.chat.completions.create(model=PLAIN, messages=USER, seed=42, temperature=1)
    b = client.chat.completions.create(model=PLAIN, messages=USER, seed=42, temperature=1)
    assert a.choices[0].message.content == b.choices[0].message.content and a.created == b.created


# -- Responses API ---------------------------------------------------------------------------------
def test_responses_maps_onto_chat(client: OpenAI, backend: Backend) -> None:
    response = client.responses.create(model=PLAIN, instructions="Be brief.", input="Hi there",
                                       max_output_tokens=50)
    assert response.model == "FakeChat-1M" and response.status == "completed" and response.output_text
    call = engine(backend).calls[-1]
    assert call["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}]
    assert call["max_tokens"] == 50
    assert response.usage.input_tokens == 4
    short = client.responses.create(model=PLAIN, input=[{"role": "user", "content": "Hi"}],
                                    max_output_tokens=2)
    assert short.status == "incomplete" and short.incomplete_details.reason == "max_output_tokens"
    follow = client.responses.create(model=PLAIN, input="And then?", previous_response_id=response.id)
    assert [m["role"] for m in engine(backend).calls[-1]["messages"]] == ["user", "assistant", "user"]
    assert client.responses.retrieve(follow.id).id == follow.id


def test_responses_store_false_keeps_nothing(client: OpenAI) -> None:
    unstored = client.responses.create(model=PLAIN, input="Hi", store=False)
    assert unstored.store is False
    with pytest.raises(openai.BadRequestError) as caught:  # as OpenAI: 400 previous_response_not_found
        client.responses.create(model=PLAIN, input="And then?", previous_response_id=unstored.id)
    assert caught.value.code == "previous_response_not_found"
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(unstored.id)


def test_responses_json_schema_and_parse(client: OpenAI) -> None:
    parsed = client.responses.parse(model=PLAIN, input="A city", text_format=City)
    assert parsed.output_parsed == City(name="Paris", population=3)


def test_responses_stream_events_parse_in_the_sdk(client: OpenAI) -> None:
    events = list(client.responses.create(model=PLAIN, input="Hi", stream=True))
    kinds = [e.type for e in events]
    assert kinds[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added"]
    assert kinds[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                          "response.completed"]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == events[-1].response.output_text
    with client.responses.stream(model=PLAIN, input="Hi", extra_body={"seed": 3}) as stream:
        deltas = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert final.output_text == deltas and final.status == "completed"


def test_responses_function_call_round_trip(client: OpenAI) -> None:
    tools = [{"type": "function", "name": "get_weather", "description": "Weather in a city",
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
              "strict": True}]
    first = client.responses.create(model=PLAIN, input="What's the weather in Paris?", tools=tools)
    call = first.output[0]
    assert call.type == "function_call" and call.name == "get_weather" and json.loads(call.arguments)["city"]
    streamed = list(client.responses.create(model=PLAIN, input="weather in Rome?", tools=tools,
                                            tool_choice={"type": "function", "name": "get_weather"}, stream=True))
    assert "response.function_call_arguments.done" in [e.type for e in streamed]
    answer = client.responses.create(model=PLAIN, tools=tools, input=[
        {"role": "user", "content": "What's the weather in Paris?"}, call.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": call.call_id, "output": "18C and sunny"}])
    assert answer.output[0].type == "message"
    with pytest.raises(openai.BadRequestError, match="tools"):
        client.responses.create(model=PLAIN, input="x", tools=[{"type": "local_shell"}])


# -- legacy completions ----------------------------------------------------------------------------
def test_completions_echo_logprobs_and_n(client: OpenAI, backend: Backend) -> None:
    reply = client.completions.create(model="davinci-002", prompt="Once upon", max_tokens=3, logprobs=2, echo=True)
    assert reply.model == "FakeBase-1M" and reply.choices[0].text.startswith("Once upon")
    assert len(reply.choices[0].logprobs.tokens) == 3 and reply.choices[0].finish_reason == "length"
    many = client.completions.create(model="davinci-002", prompt=["a b", "c"], n=2, seed=1)
    assert [c.index for c in many.choices] == [0, 1, 2, 3] and many.usage.prompt_tokens == 3
    assert engine(backend, "completion").calls[-1]["max_tokens"] == 16  # OpenAI's default for this endpoint
    chunks = list(client.completions.create(model="davinci-002", prompt="x", stream=True,
                                            stream_options={"include_usage": True}))
    assert chunks[-1].usage.completion_tokens == 6


@pytest.mark.parametrize(("path", "body", "param"), [
    ("/completions", {"model": "davinci-002", "prompt": "x", "suffix": "y"}, "suffix"),
    ("/completions", {"model": "davinci-002", "prompt": "x", "best_of": 3}, "best_of"),
    ("/completions", {"model": "davinci-002", "prompt": [1, 2]}, "prompt"),
    ("/chat/completions", {"model": "m", "messages": USER, "audio": {"voice": "alloy"}}, "audio"),
    ("/chat/completions", {"model": PLAIN, "messages": USER, "reasoning_effort": "high"}, "reasoning_effort"),
    ("/chat/completions", {"model": "m", "messages": USER, "n": 99}, "n"),
    ("/responses", {"model": PLAIN, "input": "x", "reasoning": {"effort": "high"}}, "reasoning.effort"),
    ("/embeddings", {"model": "m", "input": "x", "dimensions": 4096}, "dimensions"),
    ("/audio/speech", {"model": "m", "input": "x", "voice": "Nova"}, "voice"),
    ("/audio/speech", {"model": "m", "input": "x", "voice": {"id": "voice_1234"}}, "voice"),
    ("/audio/speech", {"model": "m", "input": "x", "voice": "af_heart", "response_format": "mp3"},
     "response_format"),
])
def test_unsupported_parameters_are_400_naming_them(backend: Backend, path: str, body: dict, param: str) -> None:
    if param == "response_format":
        from local_backend import audio

        if audio.pyav_can("mp3"):
            pytest.skip("this environment can encode mp3")
    status, headers, data = raw(backend, path, body)
    error = json.loads(data)["error"]
    assert status == 400 and error["type"] == "invalid_request_error" and error["param"] == param
    assert param in error["message"] and headers["x-should-retry"] == "false"


def test_sdk_raises_bad_request(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="suffix"):
        client.completions.create(model="davinci-002", prompt="x", suffix="y")
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-5.4-mini")


# -- embeddings, audio -----------------------------------------------------------------------------
def test_embeddings_float_base64_and_dimensions(client: OpenAI) -> None:
    default = client.embeddings.create(model="text-embedding-3-small", input=["a cat", "a dog"])  # SDK asks base64
    plain = client.embeddings.create(model="text-embedding-3-small", input=["a cat", "a dog"],
                                     encoding_format="float")
    assert default.model == "FakeMiniLM" and len(default.data) == 2 and len(default.data[0].embedding) == 8
    assert default.data[0].embedding == plain.data[0].embedding
    short = client.embeddings.create(model="text-embedding-3-small", input="a cat", dimensions=4)
    vector = short.data[0].embedding
    assert len(vector) == 4 and abs(sum(v * v for v in vector) - 1) < 1e-5


def test_transcription_formats(client: OpenAI) -> None:
    audio = ("hello.wav", b"RIFF....WAVEfake", "audio/wav")
    assert client.audio.transcriptions.create(model="gpt-transcribe", file=audio).text == "Hello there. General Kenobi."
    verbose = client.audio.transcriptions.create(model="whisper-1", file=audio, response_format="verbose_json",
                                                 timestamp_granularities=["segment", "word"])
    assert verbose.duration == 3.25 and len(verbose.segments) == 2 and verbose.words[0].word == "Hello"
    srt = client.audio.transcriptions.create(model="whisper-1", file=audio, response_format="srt")
    assert "2\n00:00:01,500 --> 00:00:03,250\nGeneral Kenobi." in srt
    vtt = client.audio.transcriptions.create(model="whisper-1", file=audio, response_format="vtt")
    assert vtt.startswith("WEBVTT") and "00:00:01.500" in vtt
    text = client.audio.transcriptions.create(model="whisper-1", file=audio, response_format="text")
    assert text.strip() == "Hello there. General Kenobi."
    translated = client.audio.translations.with_raw_response.create(model="whisper-1", file=audio)
    assert "English-only" in translated.headers["x-course-note"]
    with pytest.raises(openai.BadRequestError, match="language"):
        client.audio.transcriptions.create(model="whisper-1", file=audio, language="fr")


def test_speech_wav(client: OpenAI) -> None:
    response = client.audio.speech.create(model="gpt-4o-mini-tts", voice="af_heart", input="Hi",
                                          response_format="wav")
    assert response.content[:4] == b"RIFF" and response.response.headers["x-course-model"] == "FakeTTS"
    assert "x-course-note" not in response.response.headers


@pytest.mark.parametrize("voice", ["alloy", "coral", "cedar"])
def test_speech_accepts_openai_voice_names_with_a_note(client: OpenAI, backend: Backend, voice: str) -> None:
    response = client.audio.speech.create(model="gpt-4o-mini-tts", voice=voice, input="Hi", response_format="wav")
    note = response.response.headers["x-course-note"]
    assert response.content[:4] == b"RIFF" and voice in note and "af_heart" in note
    assert engine(backend, "speech").calls[-1]["voice"] == "af_heart"


# -- fixtures --------------------------------------------------------------------------------------
def test_fixtures_are_labelled(client: OpenAI) -> None:
    image = client.images.with_raw_response.generate(model="gpt-image-2", prompt="a red fox", size="256x256")
    assert "no offline image model" in image.headers["x-course-fixture"]
    picture = image.parse().data[0]
    assert base64.b64decode(picture.b64_json)[:8] == b"\x89PNG\r\n\x1a\n" and "Fixture" in picture.revised_prompt
    parts = [{"type": "text", "text": "What is this?"},
             {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]
    vision = client.chat.completions.with_raw_response.create(model=PLAIN,
                                                              messages=[{"role": "user", "content": parts}])
    assert "vision" in vision.headers["x-course-fixture"] and "Fixture" in vision.parse().choices[0].message.content
    moderation = client.moderations.with_raw_response.create(model="omni-moderation-latest", input="I will kill it")
    assert moderation.headers["x-course-fixture"] and moderation.parse().results[0].categories.violence
    uploaded = client.files.create(file=("train.jsonl", b'{"messages": []}\n'), purpose="fine-tune")
    job = client.fine_tuning.jobs.with_raw_response.create(model="gpt-4.1-nano", training_file=uploaded.id)
    assert job.headers["x-course-fixture"] and job.parse().status == "succeeded"
    assert "FIXTURE" in job.parse().fine_tuned_model.upper()


def test_models_list_names_served_models(client: OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert ids == ["FakeChat-1M", "FakeBase-1M", "FakeMiniLM", "FakeWhisper", "FakeTTS"]


# -- the real models (opt-in) ----------------------------------------------------------------------
LOCAL_PYTHON = ROOT / ".venv-local" / "bin" / "python"


@pytest.mark.skipif(os.environ.get("LOCAL_BACKEND_SMOKE") != "1" or not (ROOT / ".venv-local/.installed").exists(),
                    reason="real-model smoke test: run `make local-backend-test` (needs make local-backend-install)")
def test_real_models_smoke(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen([str(LOCAL_PYTHON), "-m", "local_backend", "--port", str(port)], cwd=ROOT,
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        client = OpenAI(api_key="sk-local", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0, timeout=120)
        deadline = time.monotonic() + 120
        while True:
            try:
                client.models.list()
                break
            except openai.APIConnectionError:
                assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
                time.sleep(0.5)
        chat = client.chat.completions.create(model=PLAIN, messages=[{"role": "user", "content": "Hi!"}],
                                              max_completion_tokens=20, seed=1)
        again = client.chat.completions.create(model=PLAIN, messages=[{"role": "user", "content": "Hi!"}],
                                               max_completion_tokens=20, seed=1)
        assert chat.model == "SmolLM2-135M-Instruct" and chat.choices[0].message.content
        assert chat.choices[0].message.content == again.choices[0].message.content
        assert client.chat.completions.parse(model=PLAIN, response_format=City, max_tokens=60, messages=[
            {"role": "user", "content": "Paris has 2 million people. Give name and population."}]).choices[0].message
        assert client.responses.create(model=PLAIN, input="Hi", max_output_tokens=16).output_text
        done = client.completions.create(model="davinci-002", prompt="The sky is", max_tokens=5, logprobs=1)
        assert done.model == "gemma-3-270m" and len(done.choices[0].logprobs.tokens) >= 1
        vectors = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
        assert len(vectors.data[0].embedding) == 384
        # the torch model's vector for this sentence, as lesson 07's recording stored it: the same within float32
        torch_item = next(i for i in json.loads((ROOT / "data/recordings/07_embeddings.json").read_text())[
            "interactions"] if i["request"].get("json", {}).get("input") == "I write Python for a living.")
        raw = base64.b64decode(torch_item["response"]["json"]["data"][0]["embedding"])
        old = struct.unpack(f"<{len(raw) // 4}f", raw)
        new = client.embeddings.create(model="text-embedding-3-small", input="I write Python for a living.")
        assert sum(a * b for a, b in zip(old, new.data[0].embedding, strict=True)) > 0.99999
        wav = client.audio.speech.create(model="gpt-4o-mini-tts", voice="af_heart", response_format="wav",
                                         input="The quick brown fox jumps over the lazy dog.").content
        text = client.audio.transcriptions.create(model="whisper-1", file=("fox.wav", wav, "audio/wav")).text
        assert "fox" in text.lower()
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))


# -- the Batch API ------------------------------------------------------------------------------
def _batch_file(client: OpenAI, lines: list[dict]) -> str:
    data = "\n".join(json.dumps(line) for line in lines).encode()
    return client.files.create(file=("requests.jsonl", data), purpose="batch").id


def test_batch_runs_each_request_while_polled(client: OpenAI) -> None:
    from helpers.tooling.validate import check_interaction

    lines = [{"custom_id": f"q{i}", "method": "POST", "url": "/v1/chat/completions",
              "body": {"model": "gpt-5.4-mini", "messages": [{"role": "user", "content": f"Question {i}"}],
                       "max_completion_tokens": 5}} for i in range(3)]
    batch = client.batches.create(input_file_id=_batch_file(client, lines), endpoint="/v1/chat/completions",
                                  completion_window="24h")
    statuses = [batch.status]
    while batch.status not in ("completed", "failed", "cancelled"):
        batch = client.batches.retrieve(batch.id)
        statuses.append(batch.status)
    # validating -> in_progress -> runs 2 requests -> runs the last one and completes
    assert statuses == ["validating", "in_progress", "in_progress", "completed"]
    assert batch.request_counts.completed == 3 and batch.error_file_id is None
    results = [json.loads(line) for line in client.files.content(batch.output_file_id).text.splitlines()]
    assert [r["custom_id"] for r in results] == ["q0", "q1", "q2"]
    for result in results:
        item = {"request": {"method": "POST", "path": "/v1/chat/completions", "json": lines[0]["body"]},
                "response": {"status": 200, "json": result["response"]["body"]}}
        assert check_interaction(item, result["custom_id"]) == []
    assert check_interaction({"request": {"method": "GET", "path": f"/v1/batches/{batch.id}"},
                              "response": {"status": 200, "json": batch.model_dump()}}, "batch") == []


def test_batch_rejects_a_bad_line_by_number(client: OpenAI) -> None:
    good = {"custom_id": "a", "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "m", "messages": [{"role": "user", "content": "hi"}]}}
    wrong_url = {**good, "custom_id": "b", "url": "/v1/embeddings"}
    with pytest.raises(openai.BadRequestError, match="line 2 is POST /v1/embeddings"):
        client.batches.create(input_file_id=_batch_file(client, [good, wrong_url]),
                              endpoint="/v1/chat/completions", completion_window="24h")


# -- the requested model's rules (helpers.model_rules) and the emulated reasoning ----------------------
@pytest.mark.parametrize(("path", "body", "status", "param", "code", "words"), [
    ("/responses", {"model": REASONING, "input": "x", "temperature": 0}, 400, "temperature", "unsupported_value",
     "sources disagree"),
    ("/chat/completions", {"model": REASONING, "messages": USER, "logprobs": True}, 400, "logprobs",
     "unsupported_parameter", "not supported with this model"),
    ("/responses", {"model": REASONING, "input": "x", "top_p": 0.5, "reasoning": {"effort": "none"}}, 400, "top_p",
     "unsupported_parameter", "top_p"),
    ("/responses", {"model": "gpt-5-mini", "input": "x", "temperature": 0.7, "reasoning": {"effort": "low"}}, 400,
     "temperature", "unsupported_value", "Only the default (1) value is supported"),
    ("/chat/completions", {"model": REASONING, "messages": USER, "reasoning_effort": "minimal"}, 400,
     "reasoning_effort", "unsupported_value", "Supported values are: 'none', 'low'"),
    ("/chat/completions", {"model": REASONING, "messages": USER, "presence_penalty": 1}, 400, "presence_penalty",
     "unsupported_parameter", "presence_penalty"),
    ("/chat/completions", {"model": REASONING, "messages": USER, "max_tokens": 50}, 400, "max_tokens",
     "unsupported_parameter", "max_completion_tokens"),
    ("/completions", {"model": REASONING, "prompt": "x"}, 404, "model", None, "This is a chat model"),
    ("/chat/completions", {"model": "davinci-002", "messages": USER}, 404, "model", None, "not a chat model"),
    ("/chat/completions", {"model": "gpt-5.2-pro", "messages": USER}, 404, "model", None, "only supported in v1/resp"),
])
def test_requests_the_model_would_refuse_get_openais_error(backend: Backend, path: str, body: dict, status: int,
                                                           param: str, code: str | None, words: str) -> None:
    got, headers, data = raw(backend, path, body)
    error = json.loads(data)["error"]
    assert (got, error["type"], error["param"], error["code"]) == (status, "invalid_request_error", param, code)
    assert words in error["message"] and headers["x-should-retry"] == "false"


def test_sampling_at_effort_none_answers_without_reasoning(client: OpenAI) -> None:
    answer = client.responses.with_raw_response.create(model=REASONING, input="x", temperature=0,
                                                       reasoning={"effort": "none"})
    parsed = answer.parse()
    assert [item.type for item in parsed.output] == ["message"] and "x-course-emulated" not in answer.headers
    assert parsed.usage.output_tokens_details.reasoning_tokens == 0
    chat = client.chat.completions.create(model=REASONING, messages=USER, temperature=0, logprobs=True,
                                          reasoning_effort="none")
    assert chat.usage.completion_tokens_details.reasoning_tokens == 0


def test_a_reasoning_model_starts_with_an_emulated_reasoning_item(client: OpenAI) -> None:
    answer = client.responses.with_raw_response.create(model=REASONING, input="Say hello")
    parsed = answer.parse()
    assert [item.type for item in parsed.output] == ["reasoning", "message"]
    assert parsed.output[0].summary == [] and parsed.reasoning.effort == "medium"
    assert parsed.usage.output_tokens_details.reasoning_tokens == 64
    assert parsed.usage.output_tokens == 64 + 6  # the fake engine writes 6 tokens
    assert "reasoning emulated" in answer.headers["x-course-emulated"]
    assert "stricter reading" in answer.headers["x-course-note"]
    high = client.responses.create(model=REASONING, input="Say hello", reasoning={"effort": "high"})
    assert high.usage.output_tokens_details.reasoning_tokens == 128 and high.output_text


def test_a_small_cap_spent_on_reasoning_leaves_an_empty_answer(client: OpenAI) -> None:
    cut = client.responses.create(model=REASONING, input="Say hello", max_output_tokens=16)
    assert cut.status == "incomplete" and cut.incomplete_details.reason == "max_output_tokens"
    assert [item.type for item in cut.output] == ["reasoning"] and cut.output_text == ""
    assert cut.usage.output_tokens == 16 == cut.usage.output_tokens_details.reasoning_tokens
    chat = client.chat.completions.create(model=REASONING, messages=USER, max_completion_tokens=20)
    assert chat.choices[0].finish_reason == "length" and chat.choices[0].message.content == ""
    assert chat.usage.completion_tokens_details.reasoning_tokens == 20


def test_reasoning_in_streams(client: OpenAI) -> None:
    with client.responses.stream(model=REASONING, input="Say hello", reasoning={"effort": "low"}) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[2:4] == ["response.output_item.added", "response.output_item.done"]
    assert [item.type for item in final.output] == ["reasoning", "message"] and final.output_text
    assert final.usage.output_tokens_details.reasoning_tokens == 24
    chunks = list(client.chat.completions.create(model=REASONING, messages=USER, stream=True,
                                                 stream_options={"include_usage": True}))
    assert chunks[-1].usage.completion_tokens_details.reasoning_tokens == 64
