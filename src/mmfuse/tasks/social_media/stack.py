"""Stacked linear models: per-task predictions of one linear model per feature set, as a token.

Stacking (Wolpert 1992): a linear model per task is fitted on a feature set (TF-IDF n-grams,
or the sentence embedding with the lexical features), and its predictions become one input
token of the fusion model: class probabilities of the classification tasks, the value of the
regression tasks. Linear models are what a few thousand labelled posts support best; the
fusion model then learns how much to trust each feature set for each task, and every task sees
the others' predictions (multi-task sharing: joy is positive, sarcasm flips the sentiment).

A model's predictions on its own training items would be overconfident, so ``fit`` returns
out-of-fold predictions (k-fold) for the items a task's model was trained on, exactly as an
unseen item gets from the model fitted on all of them. Coefficients are kept at float16
precision from the start, so that a saved and reloaded stack predicts what the fitted one did.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, StratifiedKFold

from mmfuse.tasks.social_media.bow import BowConfig, TfidfFeatures

MISSING = -1  # class index of an item not labelled for a task (as in mmfuse.fusion.metrics)
MAX_ITER = 3000  # lbfgs iterations; the TweetEval tasks converge in a few hundred
REGRESSION = "regression"  # the "classes" of a regression task, in configs


@dataclass
class TaskModel:
    """One task's linear model on a feature set.

    Attributes:
        classes: class names in output order; ``[]`` for a regression task (one output).
        coef: float32 [n_rows, n_features]; one row for two classes (the logit of the second)
            or for a regression.
        intercept: float32 [n_rows].
    """

    classes: list[str]
    coef: np.ndarray
    intercept: np.ndarray

    @property
    def width(self) -> int:
        """Outputs it contributes to the token: its classes, or 1 for a regression."""
        return len(self.classes) or 1

    def predict(self, features: np.ndarray | sparse.csr_matrix) -> np.ndarray:
        """float32 [n, width]: class probabilities, or the regression value."""
        out = np.asarray(features @ self.coef.T) + self.intercept  # [n, n_rows]
        if not self.classes:
            return out.astype(np.float32)
        if len(self.classes) == 2:
            positive = 1.0 / (1.0 + np.exp(-out[:, 0]))
            return np.stack([1.0 - positive, positive], axis=1).astype(np.float32)
        out -= out.max(axis=1, keepdims=True)
        exp = np.exp(out)
        return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)


def fit_task(features, targets: np.ndarray, classes: list[str], c: float) -> TaskModel:
    """A linear model on labelled rows.

    Classification: class-balanced logistic regression (``C = c``), ``targets`` index
    ``classes``. Regression (``classes == []``): ridge regression (``alpha = 1 / c``).
    """
    if not classes:
        model = Ridge(alpha=1.0 / c).fit(features, targets)
        coef, intercept = np.asarray(model.coef_, np.float32)[None], np.float32([model.intercept_])
    else:
        model = LogisticRegression(C=c, max_iter=MAX_ITER, class_weight="balanced")
        model.fit(features, targets)
        rows = 1 if len(classes) == 2 else len(classes)
        coef = np.zeros((rows, features.shape[1]), np.float32)
        intercept = np.zeros(rows, np.float32)
        if len(classes) == 2:
            coef[0], intercept[0] = model.coef_[0], model.intercept_[0]
        else:  # a class absent from these labels keeps zero weights and a hopeless intercept
            coef[model.classes_] = model.coef_
            intercept[:] = -1e4
            intercept[model.classes_] = model.intercept_
    return TaskModel(classes, coef.astype(np.float16).astype(np.float32), intercept)


def labelled(targets: np.ndarray, classes: list[str]) -> np.ndarray:
    """Indices of the items labelled for a task (class index >= 0, or a finite value)."""
    targets = np.asarray(targets)
    return np.flatnonzero(targets != MISSING if classes else np.isfinite(targets))


class LinearStack:
    """One linear model per task on one feature set, fitted out-of-fold.

    Args:
        c: inverse regularisation strength (logistic ``C``, ridge ``1 / alpha``).
        folds: folds of the out-of-fold predictions.
        seed: fold assignment.
    """

    def __init__(self, c: float = 1.0, folds: int = 5, seed: int = 0):
        self.c, self.folds, self.seed = c, folds, seed
        self.tasks: dict[str, TaskModel] = {}

    @property
    def dim(self) -> int:
        """Size of the token: the outputs of all tasks."""
        return sum(t.width for t in self.tasks.values())

    def fit(
        self,
        features: np.ndarray | sparse.csr_matrix,
        targets: Mapping[str, np.ndarray],
        classes: Mapping[str, list[str]],
    ) -> np.ndarray:
        """Fits every task's model; returns the token of the training items.

        Args:
            features: [N, F] feature rows (dense or sparse).
            targets: task -> class indices (``MISSING`` where unlabelled) or float values
                (NaN where unlabelled).
            classes: task -> class names (``[]`` for a regression task).

        Returns:
            float32 [N, dim]: out-of-fold predictions for the items a task's model was trained
            on, the full model's for the others.
        """
        self.tasks = {}
        out = []
        for name, y in targets.items():
            y = np.asarray(y)
            rows = labelled(y, classes[name])
            model = fit_task(features[rows], y[rows], classes[name], self.c)
            self.tasks[name] = model
            predicted = model.predict(features)
            splitter = (
                StratifiedKFold(self.folds, shuffle=True, random_state=self.seed)
                if classes[name]
                else KFold(self.folds, shuffle=True, random_state=self.seed)
            )
            for inner, held in splitter.split(rows, y[rows]):
                fold = fit_task(features[rows[inner]], y[rows[inner]], classes[name], self.c)
                predicted[rows[held]] = fold.predict(features[rows[held]])
            out.append(predicted)
        return np.concatenate(out, axis=1)

    def predict(self, features: np.ndarray | sparse.csr_matrix) -> np.ndarray:
        """float32 [N, dim]: every task's predictions for unseen items."""
        return np.concatenate([t.predict(features) for t in self.tasks.values()], axis=1)

    def state(self, prefix: str) -> tuple[dict, dict[str, np.ndarray]]:
        """JSON-ready settings and task classes, and the tensors (coefficients in float16)."""
        document = {
            "c": self.c,
            "folds": self.folds,
            "seed": self.seed,
            "tasks": {name: task.classes for name, task in self.tasks.items()},
        }
        tensors = {}
        for name, task in self.tasks.items():
            tensors[f"{prefix}.{name}.coef"] = task.coef.astype(np.float16)
            tensors[f"{prefix}.{name}.intercept"] = task.intercept.astype(np.float32)
        return document, tensors

    @classmethod
    def from_state(cls, prefix: str, document: dict, tensors: Mapping[str, np.ndarray]):
        """The stack ``state`` described."""
        stack = cls(document["c"], document["folds"], document["seed"])
        stack.tasks = {
            name: TaskModel(
                list(classes),
                tensors[f"{prefix}.{name}.coef"].astype(np.float32),
                tensors[f"{prefix}.{name}.intercept"].astype(np.float32),
            )
            for name, classes in document["tasks"].items()
        }
        return stack


STACKS_FILE = "stacks.json"  # settings, task classes and the TF-IDF vocabularies
STACK_WEIGHTS_FILE = "stacks.safetensors"  # IDF weights and coefficients
BOW, EMBEDDING = "bow", "embedding"  # the tokens, and the modality names they feed
TUNED = "tuned"  # the fine-tuned top layers' token (``tune`` in this package), when fitted
TUNED_WEIGHTS_FILE = "tuned.safetensors"  # their layers and heads (float16)
# Regularisation of the two stacks (logistic C): TF-IDF rows are sparse and need little, the
# dense embedding + lexical rows more; set on held-out parts of the TweetEval train splits.
BOW_C = 10.0
EMBEDDING_C = 1.0


class TextStacks:
    """The stacked tokens of a text: ``bow`` (TF-IDF n-grams) and ``embedding`` (sentence
    embedding and lexical features), each from one linear model per task, and with ``tune``
    ``tuned``: the class probabilities of the encoder's fine-tuned top layers
    (``mmfuse.tasks.social_media.tune``; classification tasks only).

    Args:
        bow_config: TF-IDF settings.
        tune: fine-tune the encoder's top layers too (None: the two linear stacks only).
    """

    def __init__(self, bow_config: BowConfig | None = None, tune=None):
        self.tfidf = TfidfFeatures(bow_config)
        self.stacks = {BOW: LinearStack(BOW_C), EMBEDDING: LinearStack(EMBEDDING_C)}
        self.tune = tune
        self.tuned = None  # the TunedTop, once fitted or attached to an encoder
        self._saved_tuned: tuple[dict, dict[str, np.ndarray]] | None = None

    @property
    def tuned_classes(self) -> dict[str, list[str]]:
        """Task -> class names of the ``tuned`` token ({} without one)."""
        if self.tuned is not None:
            return self.tuned.classes
        return self._saved_tuned[0]["classes"] if self._saved_tuned else {}

    @property
    def dims(self) -> dict[str, int]:
        """Token name -> size."""
        dims = {name: stack.dim for name, stack in self.stacks.items()}
        if self.tuned_classes:
            dims[TUNED] = sum(len(c) for c in self.tuned_classes.values())
        return dims

    def columns(self, task: str) -> dict[str, list[int]]:
        """Token name -> [start, stop) of ``task``'s outputs in that token."""
        widths = {name: {t: m.width for t, m in s.tasks.items()} for name, s in self.stacks.items()}
        if self.tuned_classes:
            widths[TUNED] = {t: len(c) for t, c in self.tuned_classes.items()}
        out = {}
        for name, tasks in widths.items():
            start = 0
            for other, width in tasks.items():
                if other == task:
                    out[name] = [start, start + width]
                start += width
        return out

    def attach(self, encoder):
        """The fine-tuned top layers, on ``encoder`` (built from the saved weights on the
        first call); None without them."""
        if self.tuned is None and self._saved_tuned is not None:
            import torch

            from mmfuse.tasks.social_media.tune import TunedTop

            document, tensors = self._saved_tuned
            model = TunedTop(encoder, document["classes"], document["layers"])
            prefix = f"{TUNED}."
            model.load_state_dict(
                {k[len(prefix) :]: torch.from_numpy(v).float() for k, v in tensors.items()}
            )
            # the encoder's precision (bfloat16 with --text-precision bfloat16); float32 else
            dtype = next(encoder.model.parameters()).dtype
            dtype = dtype if dtype.is_floating_point else torch.float32
            self.tuned = model.to(encoder.device, dtype).eval()
        return self.tuned

    def fit(
        self,
        texts: Sequence[str],
        dense: np.ndarray,
        targets: Mapping[str, np.ndarray],
        classes: Mapping[str, list[str]],
        encoder=None,
        out_of_fold: bool = True,
    ) -> dict[str, np.ndarray]:
        """Fits the stacks on training items; returns their out-of-fold tokens.

        Args:
            texts: N prepared texts (for TF-IDF and the fine-tuned layers).
            dense: float32 [N, D] sentence embeddings and lexical features.
            targets: task -> labels (``LinearStack.fit``).
            classes: task -> class names (``[]`` for regression).
            encoder: the ``TextEncoder`` whose top layers are fine-tuned (with ``tune``).
            out_of_fold: False: the ``tuned`` token of the training items is the full
                model's (no out-of-fold runs), for callers that do not train on it.

        Returns:
            Token name -> float32 [N, dim].
        """
        bow = self.stacks[BOW].fit(self.tfidf.fit_transform(texts), targets, classes)
        out = {BOW: bow, EMBEDDING: self.stacks[EMBEDDING].fit(dense, targets, classes)}
        if self.tune is not None:
            from mmfuse.tasks.social_media.tune import fit_out_of_fold, fit_tuned, predict_states

            labels = {t: c for t, c in classes.items() if c}
            rows = np.flatnonzero(np.any([np.asarray(targets[t]) != MISSING for t in labels], 0))
            states = encoder.lower_states(texts, len(encoder.layers) - self.tune.layers)
            self.tuned = fit_tuned(encoder, states, targets, labels, self.tune)
            out[TUNED] = predict_states(encoder, self.tuned, states)  # the unlabelled items'
            if out_of_fold:
                out[TUNED][rows] = fit_out_of_fold(
                    encoder,
                    [states[i] for i in rows],
                    {t: np.asarray(targets[t])[rows] for t in labels},
                    labels,
                    self.tune,
                )
        return out

    def predict(
        self, texts: Sequence[str], dense: np.ndarray, tuned: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """Token name -> float32 [N, dim] for unseen items (``tuned``: the fine-tuned layers'
        readout of the texts, required when the stacks have them)."""
        out = {
            BOW: self.stacks[BOW].predict(self.tfidf.transform(texts)),
            EMBEDDING: self.stacks[EMBEDDING].predict(dense),
        }
        if self.tuned_classes:
            if tuned is None:
                raise ValueError("these stacks need the fine-tuned layers' readout")
            out[TUNED] = tuned
        return out

    def save(self, folder: Path) -> None:
        """Writes ``stacks.json`` and ``stacks.safetensors`` (and ``tuned.safetensors``)."""
        from safetensors.numpy import save_file

        document, tensors = self.tfidf.state()
        document = {"tfidf": document}
        for name, stack in self.stacks.items():
            document[name], stack_tensors = stack.state(name)
            tensors.update(stack_tensors)
        if self.tuned is not None:
            document[TUNED] = {"layers": len(self.tuned.layers), "classes": self.tuned.classes}
            tuned = {
                f"{TUNED}.{k}": v.detach().cpu().half().numpy()
                for k, v in self.tuned.state_dict().items()
            }
            save_file(tuned, folder / TUNED_WEIGHTS_FILE)
        (folder / STACKS_FILE).write_text(json.dumps(document, ensure_ascii=False) + "\n")
        save_file(
            {k: np.ascontiguousarray(v) for k, v in tensors.items()}, folder / STACK_WEIGHTS_FILE
        )

    @classmethod
    def load(cls, folder: Path) -> TextStacks:
        """Reads the stacks ``save`` wrote (JSON and safetensors only, no pickle); the
        fine-tuned layers are built on the encoder by ``attach``."""
        from safetensors.numpy import load_file

        document = json.loads((folder / STACKS_FILE).read_text())
        tensors = load_file(folder / STACK_WEIGHTS_FILE)
        stacks = cls()
        stacks.tfidf = TfidfFeatures.from_state(document["tfidf"], tensors)
        stacks.stacks = {
            name: LinearStack.from_state(name, document[name], tensors) for name in (BOW, EMBEDDING)
        }
        if TUNED in document:
            stacks._saved_tuned = (document[TUNED], load_file(folder / TUNED_WEIGHTS_FILE))
        return stacks
