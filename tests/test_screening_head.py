"""A screening head trained on past decisions: `mmfuse train` on a screening run, then `--model`.

The past decisions here favour a nice-to-have (Terraform) that the zero-shot fit score weighs
at 0.10 against the must-have Kubernetes' 0.40: a head that learnt from them ranks new
candidates differently from the fit score, and the parts stay in the output beside it.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from helpers.tiny_text import save_tiny_sentence_transformer

from mmfuse import cli

JOB = """Requirements
- 3+ years of experience with Python
- Experience with Kubernetes
Nice to have
- Terraform is a plus
"""
WORK = "Work Experience\nEngineer, Acme, {start} - 2025\n{line}\nSkills\n{skills}\n"


def _cv(kubernetes: bool, terraform: bool, start: int) -> str:
    skills = [
        "Python",
        *(["Kubernetes"] if kubernetes else []),
        *(["Terraform"] if terraform else []),
    ]
    line = (
        "Built Python services"
        + (" on Kubernetes" if kubernetes else "")
        + (" and Terraform modules" if terraform else "")
    )
    return WORK.format(start=start, line=line + ".", skills=", ".join(skills))


def _manifest(path, candidates) -> None:
    with open(path, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["id", "cv_text"])
        writer.writerows(candidates)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model") / "tiny"
    return save_tiny_sentence_transformer(folder, ["python", "kubernetes", "terraform"], 16)


def _screen(tmp_path, tiny_model, manifest, out, *extra) -> int:
    return cli.main(
        ["run", "screening", str(manifest), "--job", str(tmp_path / "job.txt"), "-o", str(out),
         "--text-model", f"sentence-transformers:{tiny_model}", "--no-progress",
         "--as-of", "2026-01-01", *extra]
    )  # fmt: skip


def _rows(path) -> dict[str, dict]:
    with open(path, encoding="utf-8-sig", newline="") as stream:
        return {row["id"]: row for row in csv.DictReader(stream)}


def test_a_head_trained_on_past_decisions_ranks_by_what_they_valued(
    tmp_path, tiny_model, one_torch_thread
):
    (tmp_path / "job.txt").write_text(JOB, encoding="utf-8")
    past, decisions = [], []
    for n in range(32):
        kubernetes, terraform, start = n % 2 == 0, (n // 2) % 2 == 0, 2016 + n % 10
        past.append((f"p{n}", _cv(kubernetes, terraform, start)))
        decisions.append((f"p{n}", "hire" if terraform else "reject"))
    _manifest(tmp_path / "past.csv", past)
    assert _screen(tmp_path, tiny_model, tmp_path / "past.csv", tmp_path / "past") == 0
    with open(tmp_path / "decisions.csv", "w", encoding="utf-8", newline="") as stream:
        csv.writer(stream).writerows([("id", "decision"), *decisions])

    code = cli.main(
        ["train", "--labels", str(tmp_path / "decisions.csv"), "--data", str(tmp_path / "past"),
         "--out", str(tmp_path / "head")]
    )  # fmt: skip
    assert code == 0
    record = json.loads((tmp_path / "head" / "training.json").read_text())
    assert record["target"]["classes"] == ["hire", "reject"]  # the favourable decision first
    comparison = record["held_out_comparison"]
    assert comparison["metric"] == "roc_auc" and comparison["head"] > comparison["baseline"]

    new = [
        ("new-1", _cv(kubernetes=True, terraform=False, start=2012)),
        ("new-2", _cv(kubernetes=False, terraform=True, start=2025)),
    ]
    _manifest(tmp_path / "new.csv", new)
    out = tmp_path / "new"
    assert (
        _screen(tmp_path, tiny_model, tmp_path / "new.csv", out, "--model", str(tmp_path / "head"))
        == 0
    )
    rows = _rows(out / "results.csv")
    k8s, terraform = rows["new-1"], rows["new-2"]
    assert float(k8s["fit_score"]) > float(terraform["fit_score"])  # the zero-shot view
    assert float(terraform["learned_score"]) > float(k8s["learned_score"])  # the decisions' view
    assert (terraform["rank"], k8s["rank"]) == ("1", "2")  # ranked by the learned score
    assert terraform["learned_prediction"] == "hire" and k8s["learned_prediction"] == "reject"
    assert k8s["must_have_coverage"] and k8s["cv_job_similarity"]  # the parts stay
    header = list(rows["new-1"])
    assert header[:4] == ["id", "rank", "learned_score", "learned_prediction"]
    assert not any(c.startswith("tokens_") for c in header)  # arrays go to Parquet only


def test_an_untrained_head_ranks_as_the_fit_score(tmp_path):
    from mmfuse.fusion.inference import predict
    from mmfuse.tasks.screening.head import Target, build_head
    from mmfuse.tasks.screening.tokens import modality_dims, parts_token, stack

    dim = 8
    model = build_head(Target("decision", ("yes", "no")), dim, {}).eval()
    rows = [
        {
            "tokens_parts": parts_token({"must_have_coverage": fit / 100}, fit),
            "tokens_requirements": np.ones((2, dim + 3), np.float32),
        }
        for fit in (12.5, 61.0, 88.0)
    ]
    scores = predict(model, stack(rows, modality_dims(dim)))["decision"]
    np.testing.assert_allclose(100 * scores[:, 0], [20.0, 58.8, 80.4], rtol=1e-5)  # 10 + 0.8 fit


def test_train_refuses_a_run_of_another_task_and_labels_of_one_class(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({"task": "social-media"}))
    (tmp_path / "labels.csv").write_text("id,decision\na,hire\nb,hire\n")
    args = ["train", "--labels", str(tmp_path / "labels.csv"), "--data", str(run)]
    assert cli.main([*args, "--out", str(tmp_path / "head")]) == 2
    assert "screening or wildlife run" in capsys.readouterr().err


def test_decisions_need_a_favourable_one(tmp_path):
    from mmfuse.errors import UsageError
    from mmfuse.tasks.screening.head import target_of

    assert target_of(["reject", "advance"]).classes == ("advance", "reject")
    assert target_of(["2", "5", "3"]).value_range == (2.0, 5.0)
    assert target_of(["A", "B"], positive="B").classes == ("B", "A")
    with pytest.raises(UsageError, match="--positive"):
        target_of(["A", "B"])
    with pytest.raises(UsageError, match="two"):
        target_of(["hire", "hire"])


def test_ratings_train_a_head_whose_prediction_stays_in_their_range(tmp_path, one_torch_thread):
    from mmfuse.fusion.model import save_model
    from mmfuse.io.writers import write_parquet
    from mmfuse.tasks.heads import HeadOptions
    from mmfuse.tasks.screening.head import Head
    from mmfuse.tasks.screening.tokens import parts_token
    from mmfuse.tasks.screening.training import fit_from_run

    dim, rng = 8, np.random.default_rng(0)
    rows, ratings = [], {}
    for n in range(40):
        fit = float(rng.uniform(20, 95))
        rows.append(
            {
                "id": f"c{n}",
                "tokens_parts": parts_token({"must_have_coverage": fit / 100}, fit),
                "tokens_sections": rng.normal(size=(2, dim)).astype(np.float32),
                "tokens_sections_times": np.array([0.0, 2.0], np.float32),
                "tokens_requirements": rng.normal(size=(3, dim + 3)).astype(np.float32),
            }
        )
        ratings[f"c{n}"] = str(1 + round(4 * (fit - 20) / 75))  # 1-5, following the fit score
    write_parquet(rows, tmp_path / "results.parquet", ["id"])
    manifest = {"settings": {"text_model": "sentence-transformers:tiny"}}
    options = HeadOptions(epochs=60)
    model, record = fit_from_run(tmp_path / "results.parquet", manifest, ratings, options)
    assert record["target"]["kind"] == "rating" and record["target"]["value_range"] == (1.0, 5.0)
    assert record["held_out_comparison"]["metric"] == "spearman"
    save_model(model, tmp_path / "head")
    head = Head(tmp_path / "head")
    assert head.meta["text_model"] == "sentence-transformers:tiny"
    predicted = head.predict(rows)
    values = [p["learned_prediction"] for p in predicted]
    assert all(1.0 <= v <= 5.0 for v in values)
    assert all(0.0 <= p["learned_score"] <= 100.0 for p in predicted)


def test_a_wildlife_head_is_not_taken_for_a_screening_head(tmp_path):
    from mmfuse.errors import UsageError
    from mmfuse.fusion.model import save_model
    from mmfuse.tasks.screening.head import Head
    from mmfuse.tasks.wildlife.head import build_head as species_head

    crops = np.eye(4, dtype=np.float32)
    save_model(species_head(["a", "b"], crops, np.array([0, 0, 1, 1]), {}), tmp_path / "head")
    with pytest.raises(UsageError, match="not a screening head"):
        Head(tmp_path / "head")
    with pytest.raises(UsageError, match=r"no config\.json"):
        Head(tmp_path)


@pytest.fixture(scope="module")
def tiny_head(tmp_path_factory, tiny_model, one_torch_thread):
    """A screening head trained by `mmfuse train` on a synthetic run of 16-dim tokens (the
    tiny sentence encoder's), decisions following the fit score."""
    from mmfuse.io.writers import write_parquet
    from mmfuse.tasks.screening.tokens import parts_token

    folder, rng = tmp_path_factory.mktemp("head"), np.random.default_rng(0)
    run, rows, decisions = folder / "past", [], []
    run.mkdir()
    for n in range(24):
        fit = float(rng.uniform(20, 95))
        rows.append(
            {
                "id": f"c{n}",
                "tokens_parts": parts_token({"must_have_coverage": fit / 100}, fit),
                "tokens_requirements": rng.normal(size=(3, 16 + 3)).astype(np.float32),
            }
        )
        decisions.append((f"c{n}", "hire" if fit > 60 else "reject"))
    write_parquet(rows, run / "results.parquet", ["id"])
    settings = {"text_model": f"sentence-transformers:{tiny_model}"}
    (run / "manifest.json").write_text(json.dumps({"task": "screening", "settings": settings}))
    with open(folder / "decisions.csv", "w", encoding="utf-8", newline="") as stream:
        csv.writer(stream).writerows([("id", "decision"), *decisions])
    args = ["train", "--labels", str(folder / "decisions.csv"), "--data", str(run)]
    assert cli.main([*args, "--out", str(folder / "head"), "--epochs", "5"]) == 0
    return folder / "head"


def _flip_tail(path, size: int = 64 * 1024) -> None:
    """Inverts the file's last ``size`` bytes (at most its second half): its header stays
    readable, its values change."""
    data = bytearray(path.read_bytes())
    start = max(len(data) - size, len(data) // 2)
    data[start:] = bytes(b ^ 0xFF for b in data[start:])
    path.write_bytes(bytes(data))


def _swap_classes(path) -> None:
    config = json.loads(path.read_text())
    config["tasks"][0]["classes"].reverse()
    path.write_text(json.dumps(config, indent=2))


@pytest.mark.parametrize(
    ("tamper", "name"),
    [(_flip_tail, "model.safetensors"), (_swap_classes, "config.json")],
)
def test_a_tampered_head_is_refused_in_one_line(
    tmp_path, tiny_model, tiny_head, capsys, tamper, name
):
    """Issue 25 #2: flipped weights gave empty learned scores, swapped classes flipped every
    prediction, both with exit 0."""
    import shutil

    head = shutil.copytree(tiny_head, tmp_path / "head")
    tamper(head / name)
    (tmp_path / "job.txt").write_text(JOB, encoding="utf-8")
    _manifest(tmp_path / "new.csv", [("new-1", _cv(True, False, 2012))])
    capsys.readouterr()
    out = tmp_path / "out"
    code = _screen(tmp_path, tiny_model, tmp_path / "new.csv", out, "--model", str(head))
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and name in err and "SHA-256" in err
    assert not (out / "results.csv").exists()


def test_a_head_with_non_finite_weights_is_refused(tmp_path, tiny_head):
    """A head whose training diverged (NaN weights, hashes recorded as written) gave empty
    learned scores; it is refused at load."""
    import torch

    from mmfuse.errors import ModelUnavailable
    from mmfuse.fusion.model import load_model, save_model
    from mmfuse.tasks.screening.head import Head

    model = load_model(tiny_head)
    with torch.no_grad():
        next(iter(model.parameters())).fill_(float("nan"))
    save_model(model, tmp_path / "head")
    with pytest.raises(ModelUnavailable, match="not finite") as refused:
        Head(tmp_path / "head")
    assert str(tmp_path / "head") in str(refused.value) and "\n" not in str(refused.value)
