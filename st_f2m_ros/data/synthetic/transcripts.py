# Copyright 2026 The st_f2m_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""Transcript stream aligned to a script, from an emotion-conditioned phrase bank.

The phrases were written for this project (a patient talking to a care robot); none is taken
from a dataset. Each emotion has phrases for low, medium and high intensity; there are neutral
utterances and ambiguous ones (words that fit several emotions), silences between utterances,
and configurable label noise (an utterance drawn from another emotion), so that text helps but
never gives the answer away (paper VI-D: text masking is one of the corruptions).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from st_f2m_ros.data.clip import Utterance
from st_f2m_ros.data.synthetic.script import Script
from st_f2m_ros.errors import ConfigError
from st_f2m_ros.taxonomy import decode_class

PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    'happiness': {
        'low': ('that is nice', 'okay, that sounds good', 'I feel a bit better today'),
        'medium': ('I am glad you came', 'this is good news', 'thank you, that really helps'),
        'high': ('this is wonderful', 'I am so happy to go home', 'best news all week'),
    },
    'anger': {
        'low': ('that is a bit annoying', 'I asked for this earlier', 'not again'),
        'medium': (
            'why does nobody listen to me',
            'this is not acceptable',
            'I have waited far too long',
        ),
        'high': ('stop it right now', 'I am furious about this', 'get away from me'),
    },
    'sadness': {
        'low': ('I miss my garden', 'it is a quiet day', 'nobody called today'),
        'medium': (
            'I feel so alone here',
            'I do not think it will get better',
            'my family could not come',
        ),
        'high': ('I cannot stop crying', 'everything feels hopeless', 'I lost her last year'),
    },
    'disgust': {
        'low': ('this tastes odd', 'I do not like the smell', 'that is not very clean'),
        'medium': ('this food is awful', 'that smell makes me sick', 'please take that away'),
        'high': ('that is revolting', 'I am going to be sick', 'get that filth out of here'),
    },
    'fear': {
        'low': ('I am a little nervous', 'will it hurt', 'I am not sure about this'),
        'medium': (
            'I am scared of the operation',
            'what if something goes wrong',
            'please do not leave me',
        ),
        'high': ('help me, please', 'I am terrified', 'something is very wrong'),
    },
    'surprise': {
        'low': ('oh, really', 'I did not expect that', 'huh, interesting'),
        'medium': ('wow, already', 'I had no idea', 'that came out of nowhere'),
        'high': ('what, no way', 'I cannot believe it', 'oh my goodness'),
    },
}
NEUTRAL_PHRASES: tuple[str, ...] = (
    'what time is it',
    'the window is open',
    'I had soup for lunch',
    'can you pass the water',
    'the doctor comes at ten',
    'yes',
    'I see',
    'it is Tuesday',
    'my room is on the left',
    'I read the paper this morning',
)
AMBIGUOUS_PHRASES: tuple[str, ...] = (
    'oh my',
    'I do not know',
    'that is something',
    'well, well',
    'really',
    'here we go',
    'of course',
    'look at that',
)


@dataclass(frozen=True)
class TranscriptConfig:
    """Statistics of the transcript stream."""

    silence_prob: float = 0.3  # chance that a gap is a long silence (1-3 s)
    ambiguous_prob: float = 0.1  # chance an utterance is ambiguous
    label_noise: float = 0.0  # chance an emotional utterance comes from another emotion
    seconds_per_word: float = 0.35

    def validate(self) -> None:
        """Raise ConfigError naming the bad setting."""
        for name in ('silence_prob', 'ambiguous_prob', 'label_noise'):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f'{name} must be in [0, 1], got {getattr(self, name)}')
        if self.seconds_per_word <= 0:
            raise ConfigError('seconds_per_word must be > 0')


def phrase_for(cid: int, rng: np.random.Generator, cfg: TranscriptConfig) -> str:
    """Draw an utterance for class id `cid` under the label noise and ambiguity settings."""
    u = rng.uniform()
    if u < cfg.ambiguous_prob:
        return str(rng.choice(AMBIGUOUS_PHRASES))
    fc = decode_class(cid)
    emotion, intensity = fc.emotion, fc.intensity
    if rng.uniform() < cfg.label_noise:
        emotion = str(rng.choice(list(PHRASES)))
        intensity = str(rng.choice(['low', 'medium', 'high']))
    if emotion == 'neutral':
        return str(rng.choice(NEUTRAL_PHRASES))
    return str(rng.choice(PHRASES[emotion][intensity]))


def make_transcript(
    script: Script, rng: np.random.Generator, cfg: TranscriptConfig | None = None
) -> list[Utterance]:
    """Utterances in time order, non-overlapping, inside [0, script.duration].

    An utterance's text follows the class of the script segment at its midpoint.
    """
    cfg = cfg or TranscriptConfig()
    cfg.validate()
    out: list[Utterance] = []
    t = float(rng.uniform(0.1, 0.8))
    while True:
        mid_guess = min(t + 0.6, script.duration)
        cid = int(script.labels_at(np.array([mid_guess]))[0])
        text = phrase_for(cid, rng, cfg)
        length = len(text.split()) * cfg.seconds_per_word * float(rng.uniform(0.8, 1.25))
        end = t + length
        if end > script.duration:
            break
        mid = int(script.labels_at(np.array([(t + end) / 2]))[0])
        if mid != cid:  # the segment changed under a long utterance: say what fits its middle
            text = phrase_for(mid, rng, cfg)
            end = min(t + len(text.split()) * cfg.seconds_per_word, script.duration)
        out.append(Utterance(round(t, 6), round(end, 6), text))
        gap = rng.uniform(1.0, 3.0) if rng.uniform() < cfg.silence_prob else rng.uniform(0.2, 0.9)
        t = end + float(gap)
    return out
