"""helpers.audio: WAV reading, the waveform envelope and figure, transcript comparison."""

from __future__ import annotations

import io
import json
import wave

import numpy as np
import pytest

from helpers.audio import edit_distance, envelope, read_wav, waveform, word_error_rate, words


def wav_bytes(samples: list[int], rate: int = 8000, channels: int = 1) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(np.array(samples, dtype="<i2").tobytes())
    return out.getvalue()


def test_read_wav_scales_and_mixes_to_mono() -> None:
    samples, rate = read_wav(wav_bytes([0, 16384, -32768, 32767], rate=24000))
    assert rate == 24000 and samples.dtype == np.float32
    assert samples.tolist() == pytest.approx([0.0, 0.5, -1.0, 0.99997], abs=1e-4)
    stereo, _ = read_wav(wav_bytes([16384, 0, -16384, 0], channels=2))
    assert stereo.tolist() == pytest.approx([0.25, -0.25])


def test_envelope_is_small_and_rounded() -> None:
    rate = 1000
    samples = np.sin(np.linspace(0, 40 * np.pi, 5 * rate)).astype(np.float32)
    times, lows, highs = envelope(samples, rate, points=50)
    assert len(times) == len(lows) == len(highs) == 50
    assert times[0] == pytest.approx(0.05) and times[-1] == pytest.approx(4.95)
    assert all(lo <= hi for lo, hi in zip(lows, highs, strict=True))
    assert all(round(v, 4) == v for v in lows + highs + times)
    assert envelope(np.zeros(3, dtype=np.float32), rate, points=10)[0] == pytest.approx([0.0005, 0.0015, 0.0025])
    assert envelope(np.zeros(0, dtype=np.float32), rate) == ([], [], [])


def test_waveform_marks_and_size() -> None:
    samples = np.random.default_rng(0).uniform(-0.5, 0.5, 24000 * 3).astype(np.float32)
    fig = waveform(samples, 24000, marks=[(0.1, 0.6, "Hello"), (0.7, 1.23456789, "there")], points=200)
    assert len(fig.data) == 2 and len(fig.data[0].x) == 200
    assert [a.text for a in fig.layout.annotations] == ["Hello", "there"]
    assert fig.layout.shapes[1].x1 == 1.2346
    assert len(json.dumps(fig.to_plotly_json(), default=str)) < 30_000


def test_words_and_error_rate() -> None:
    assert words("Hello, Priya! It’s 5 o'clock.") == ["hello", "priya", "it's", "5", "o'clock"]
    assert edit_distance(list("kitten"), list("sitting")) == 3
    assert edit_distance([], ["a"]) == 1
    assert word_error_rate("The quick brown fox.", "the quick brown fox") == 0.0
    assert word_error_rate("the parcel from Tallinn", "the parcel from Talon") == 0.25
    assert word_error_rate("a b", "a b c d") == 1.0
    with pytest.raises(ValueError, match="no words"):
        word_error_rate("...", "a")


def test_word_overlap_scores_shared_words() -> None:
    from helpers.audio import word_overlap

    assert word_overlap("The train leaves at eight.", "at eight the train leaves") == 1.0
    assert word_overlap("The train leaves at eight.", "A bus") == 0.0
    assert word_overlap("a b c d", "a b") == pytest.approx(2 / 3)  # precision 1, recall 1/2
    assert word_overlap("a b", "a a a a b b b b") == pytest.approx(0.4)  # a looping output loses precision
