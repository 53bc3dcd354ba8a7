"""Audio chores for the speech lesson: read WAV bytes, draw a small waveform, compare transcripts.

The lesson makes every API call itself (``client.audio.speech.create``, ``client.audio.transcriptions.create``);
this module only turns the bytes and texts it gets back into numbers and a figure::

    samples, rate = read_wav(wav_bytes)
    waveform(samples, rate, marks=[(w.start, w.end, w.word) for w in transcript.words])
    word_error_rate("the quick brown fox", transcript.text)

Figures are downsampled to a few hundred points and rounded, so a stored notebook output stays small and
identical from run to run (nbval compares it).
"""

from __future__ import annotations

import io
import re
import wave
from collections import Counter
from collections.abc import Sequence

import nltk
import numpy as np
import plotly.graph_objects as go

from .plots import TEMPLATE

_WORD = re.compile(r"[a-z0-9']+")


def read_wav(data: bytes) -> tuple[np.ndarray, int]:
    """Samples of a 16-bit PCM WAV file as floats in [-1, 1] (channels averaged to mono), and its sample rate."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise ValueError(f"expected 16-bit samples, got {8 * wav.getsampwidth()}-bit")
        rate, channels = wav.getframerate(), wav.getnchannels()
        frames = wav.readframes(wav.getnframes())
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return samples, rate


def envelope(samples: np.ndarray, rate: int, points: int = 300) -> tuple[list[float], list[float], list[float]]:
    """``(times, lows, highs)``: the minimum and maximum of each of ``points`` equal slices, rounded to 4 decimals."""
    if len(samples) == 0:
        return [], [], []
    points = max(1, min(points, len(samples)))
    edges = np.linspace(0, len(samples), points + 1).astype(int)
    times, lows, highs = [], [], []
    for start, end in zip(edges[:-1], edges[1:], strict=True):
        piece = samples[start:max(end, start + 1)]
        times.append(round(float((start + end) / 2 / rate), 4))
        lows.append(round(float(piece.min()), 4))
        highs.append(round(float(piece.max()), 4))
    return times, lows, highs


def waveform(
    samples: np.ndarray, rate: int, marks: Sequence[tuple[float, float, str]] = (), *, points: int = 300,
    title: str = "Waveform",
) -> go.Figure:
    """The waveform's envelope, with a shaded band and a label for each ``(start, end, label)`` mark (seconds)."""
    times, lows, highs = envelope(samples, rate, points)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=times, y=highs, mode="lines", line={"width": 0.5, "color": "#4c78a8"},
                             name="max", showlegend=False))
    fig.add_trace(go.Scatter(x=times, y=lows, mode="lines", line={"width": 0.5, "color": "#4c78a8"},
                             fill="tonexty", name="min", showlegend=False))
    for number, (start, end, label) in enumerate(marks):
        fig.add_vrect(x0=round(float(start), 4), x1=round(float(end), 4), line_width=0, opacity=0.15,
                      fillcolor="#f58518" if number % 2 else "#54a24b")
        fig.add_annotation(x=round((float(start) + float(end)) / 2, 4), y=1.0, yref="paper", text=str(label),
                           showarrow=False, yanchor="bottom", font={"size": 11})
    fig.update_layout(title=title, xaxis_title="seconds", yaxis_title="amplitude", template=TEMPLATE, height=320,
                      margin={"l": 60, "r": 20, "t": 70, "b": 50}, yaxis_range=[-1, 1])
    return fig


def words(text: str) -> list[str]:
    """Lower-case words without punctuation: what to compare when checking a transcript."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Levenshtein distance between two word lists (nltk's, which compares any sequence item by item)."""
    return nltk.edit_distance(list(reference), list(hypothesis))


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word edits needed to turn ``reference`` into ``hypothesis``, divided by the number of reference words."""
    ref = words(reference)
    if not ref:
        raise ValueError("the reference text has no words")
    return edit_distance(ref, words(hypothesis)) / len(ref)


def word_overlap(reference: str, hypothesis: str) -> float:
    """How many words two texts share, as an F1 score over word counts: 1.0 for the same words (in any order),
    0.0 for none. A rough score for a translation against a reference one (it ignores word order and synonyms)."""
    ref, hyp = Counter(words(reference)), Counter(words(hypothesis))
    if not ref:
        raise ValueError("the reference text has no words")
    shared = sum((ref & hyp).values())
    if not shared:
        return 0.0
    precision, recall = shared / sum(hyp.values()), shared / sum(ref.values())
    return 2 * precision * recall / (precision + recall)
