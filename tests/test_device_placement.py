"""Every module and tensor of a pipeline sits on the run's device, checked without a GPU.

On a GPU a module left on the CPU fails every item ("Expected all tensors to be on the same
device"). PyTorch's ``meta`` device stands in for the GPU here: a forward that mixes ``meta``
and CPU tensors raises the same error, and a module built from a ``meta`` encoder must be
``meta`` throughout. The parts that build modules or tensors of their own next to an
encoder's are checked: the fine-tuned top layers (built, trained batches, reloaded), the
fusion model and its heads, and the wildlife scan's input.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from helpers.tiny_models import make_tiny_timm
from helpers.tiny_text import save_tiny_sentence_transformer

from mmfuse.cli import main
from mmfuse.encoders.text import TextEncoder
from mmfuse.fusion.model import TaskConfig, create_model, load_model, save_model
from mmfuse.registry import resolve
from mmfuse.tasks.social_media import tune
from mmfuse.tasks.social_media.stack import TextStacks
from mmfuse.tasks.wildlife.locate import Locator

META = torch.device("meta")
WORDS = ["love", "great", "hate", "awful", "the", "a", "day", "today"]


def off_device(module: torch.nn.Module, device: torch.device) -> list[str]:
    """Names of the parameters and buffers of ``module`` that are not on ``device``."""
    tensors = [*module.named_parameters(), *module.named_buffers()]
    return [name for name, tensor in tensors if tensor.device != device]


@pytest.fixture()
def tiny(tmp_path) -> str:
    folder = save_tiny_sentence_transformer(tmp_path / "st", WORDS, 32, layers=3)
    return f"sentence-transformers:{folder}"


@pytest.fixture()
def meta_encoder(tiny) -> TextEncoder:
    """The tiny text encoder as it would be on a GPU: its model and ``device`` elsewhere."""
    encoder = TextEncoder(resolve(tiny), precision="float32")
    encoder.model.to(META)
    encoder.device = "meta"
    return encoder


def test_fine_tuned_layers_and_their_heads_are_built_on_the_encoders_device(meta_encoder):
    model = tune.TunedTop(meta_encoder, {"sentiment": ["neg", "pos"]}, layers=1)
    assert off_device(model, META) == []
    states = [torch.randn(5, 32, dtype=torch.float16), torch.randn(3, 32, dtype=torch.float16)]
    batch, layer_mask, mask = tune._padded(meta_encoder, states, np.array([0, 1]))
    assert {batch.device, layer_mask.device, mask.device} == {META}
    assert model.read(batch, layer_mask, mask).shape == (2, 2)  # no CPU tensor met on the way


@pytest.mark.filterwarnings("ignore:.*to a meta parameter")
def test_reloaded_fine_tuned_layers_attach_on_the_encoders_device(tiny, meta_encoder, tmp_path):
    data = tmp_path / "posts"
    data.mkdir()
    rng = np.random.default_rng(0)
    rows = [("id", "sentiment")]
    for i in range(40):
        label = ("hate", "awful") if i % 2 else ("love", "great")
        (data / f"p{i}.txt").write_text(" ".join([*label, *rng.choice(WORDS[4:], 3)]))
        rows.append((f"p{i}", "neg" if i % 2 else "pos"))
    with open(tmp_path / "labels.csv", "w", newline="", encoding="utf-8") as stream:
        csv.writer(stream).writerows(rows)
    out = tmp_path / "model"
    argv = ["train", "--out", out, "--text-model", tiny, "--base", "fusion-tiny", "--data", data]
    argv += ["--labels", tmp_path / "labels.csv", "--tune-layers", "1", "--tune-epochs", "1"]
    assert main([*map(str, argv), "--device", "cpu", "-q"]) == 0
    tuned = TextStacks.load(out).attach(meta_encoder)
    assert off_device(tuned, META) == []


def test_the_fusion_model_and_its_heads_run_on_the_device_they_are_loaded_on(tmp_path):
    model = create_model("fusion-tiny")
    folder = save_model(model, tmp_path / "fusion")
    loaded = load_model(folder, META)
    assert off_device(loaded, META) == []
    loaded.add_task(TaskConfig("intent", "multiclass", ("ask", "tell")))
    assert off_device(loaded, META) == []


def test_the_wildlife_scan_reads_pixels_on_the_scanners_device():
    seen = []
    scanner = make_tiny_timm().eval().to(META)
    forward_features = scanner.forward_features

    def spy(pixels):
        seen.append(pixels.device)
        return forward_features(pixels)

    scanner.forward_features = spy
    locator = Locator(encoder=None, scanner=scanner)
    picture = np.zeros((120, 160, 3), np.uint8)
    with pytest.raises(NotImplementedError, match="meta"):  # its numbers come back: not on meta
        locator._scan(locator.prepare(picture, [], None).pixels)  # made on the CPU, as in decode
    assert seen == [META]


def test_on_a_gpu_the_default_batch_fills_half_of_its_free_memory(monkeypatch):
    from mmfuse.tasks.social_media.task import SocialMediaTask
    from mmfuse.tasks.transcribe import TranscribeTask

    free = {"bytes": 8 * 2**30}
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (free["bytes"], 2**37))
    assert SocialMediaTask.batch_size_for("cpu") == SocialMediaTask.default_batch_size
    assert SocialMediaTask.batch_size_for("cuda") == 256  # 4 GiB at 16 MiB a post
    free["bytes"] = 2**30  # a busy GPU: never fewer than on the CPU
    assert SocialMediaTask.batch_size_for("cuda:0") == SocialMediaTask.default_batch_size
    free["bytes"] = 2**40  # a huge one: at most max_device_batch
    assert SocialMediaTask.batch_size_for("cuda") == SocialMediaTask.max_device_batch
    assert TranscribeTask.batch_size_for("cuda") == 1  # Whisper, one file at a time


def test_speech_falls_back_to_the_cpu_where_ctranslate2_cannot_use_the_gpu(
    tmp_path_factory, monkeypatch, caplog
):
    """CTranslate2's wheels need CUDA 12's cuBLAS, which a CUDA 13 machine lacks: loading
    succeeds and the first product fails. The encoder finds out at load, not per file."""
    import faster_whisper
    from helpers.tiny_models import tiny_whisper

    from mmfuse.encoders.speech import FasterWhisperEncoder
    from mmfuse.registry import ModelRef

    folder = tiny_whisper(tmp_path_factory) / "ct2"
    real = faster_whisper.WhisperModel

    def model_without_cublas(path, device, **kwargs):
        model = real(path, device="cpu", **{**kwargs, "compute_type": "int8"})
        if device == "cuda":
            model.model = type("Broken", (), {"encode": _no_cublas})()
        return model

    def _no_cublas(*args, **kwargs):
        raise RuntimeError("Library libcublas.so.12 is not found or cannot be loaded")

    monkeypatch.setattr(faster_whisper, "WhisperModel", model_without_cublas)
    ref = ModelRef("faster-whisper:tiny", "faster-whisper", str(folder))
    encoder = FasterWhisperEncoder(ref, "cuda")
    assert encoder.device == "cpu" and encoder.compute_type == "int8"
    assert "speech runs on the CPU" in caplog.text and "libcublas" in caplog.text
