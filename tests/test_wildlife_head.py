"""Many-shot species naming: a head trained on a wildlife run's labelled crops (`mmfuse train`).

Unit tests use synthetic crop features; the integration test runs the real crop classifier on
the camtrapR Borneo thumbnails (skipped without ``../shared/data``).
"""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest

from mmfuse import cli
from mmfuse.fusion.labels import holdout_mask
from mmfuse.tasks.heads import HeadOptions, fit
from mmfuse.tasks.wildlife.head import SpeciesHead, build_head, crop_features, inputs
from mmfuse.tasks.wildlife.locate import Detection


def _clusters(n_per: int, dim: int = 32, seed: int = 0):
    """Three species' crop features. Two look alike: they differ a little along ``v`` and more
    along ``u``, but every crop also varies a lot along ``u`` (pose, light), so the mean crops
    (the prototypes) mislead and a trained head must learn to read ``v``. The same
    directions for every seed; ``seed`` draws the crops."""
    fixed = np.random.default_rng(42)
    centres = 3 * fixed.normal(size=(3, dim)) / np.sqrt(dim)
    u, v = np.eye(dim)[0], np.eye(dim)[1]
    centres[2] = centres[1] + 0.8 * u + 0.6 * v
    rng = np.random.default_rng(seed)
    crops = []
    for centre in centres:
        noise = 0.15 * rng.normal(size=(n_per, dim)) + 1.2 * rng.normal(size=(n_per, 1)) * u
        crops.append(centre + noise)
    features = np.concatenate(crops)
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    return features.astype(np.float32), np.repeat(np.arange(3), n_per)


def test_a_trained_head_beats_its_prototypes_and_reloads(tmp_path, one_torch_thread):
    from mmfuse.fusion.inference import predict
    from mmfuse.fusion.model import save_model

    features, y = _clusters(60)
    test_features, test_y = _clusters(40, seed=1)
    classes = ["civet", "macaque", "pig-tailed macaque"]
    model = build_head(classes, features, y, {"image_model": "timm:x"})
    untrained = predict(model, inputs(test_features))["species"].argmax(axis=1)
    held = holdout_mask({"species": y}, 0.2, seed=0)
    fit(model, lambda rows: inputs(features[rows]), y, held, HeadOptions(epochs=60), True)
    save_model(model, tmp_path / "head")
    head = SpeciesHead(tmp_path / "head")
    trained = head.scores(test_features).argmax(axis=1)
    assert head.classes == classes and head.meta["image_model"] == "timm:x"
    assert np.mean(trained == test_y) > np.mean(untrained == test_y)
    assert np.mean(trained == test_y) >= 0.9


def test_crop_features_pool_the_animals_by_mass():
    def detection(category, mass, feature):
        vector = np.asarray(feature, np.float32)
        return Detection((0, 0, 1, 1), category, mass, 0, np.zeros(1000), vector, False)

    animals = [detection("animal", 0.9, [1, 0]), detection("animal", 0.3, [0, 1])]
    pooled = crop_features([*animals, detection("person", 0.99, [0, 1])])
    np.testing.assert_allclose(pooled, np.array([0.9, 0.3]) / np.hypot(0.9, 0.3), rtol=1e-6)
    np.testing.assert_allclose(crop_features([detection("vehicle", 0.5, [0, 2])]), [0, 1])
    assert crop_features([]) is None


def test_a_head_is_refused_where_it_cannot_apply(tmp_path, capsys):
    from mmfuse.fusion.model import save_model

    features, y = _clusters(5)
    save_model(build_head(["a", "b", "c"], features, y, {}), tmp_path / "head")
    (tmp_path / "survey").mkdir()
    (tmp_path / "survey" / "IMG_0001.JPG").write_bytes(b"not read: the head is refused first")
    species = tmp_path / "species.txt"
    species.write_text("zebra\ngiraffe\n")
    args = ["run", "wildlife", str(tmp_path / "survey"), "-o", str(tmp_path / "out")]
    assert cli.main([*args, "--model", str(tmp_path / "head"), "--species", str(species)]) == 2
    assert "other species" in capsys.readouterr().err
    assert cli.main([*args, "--model", str(tmp_path / "head"), "--examples", str(tmp_path)]) == 2
    capsys.readouterr()
    posts = tmp_path / "posts.csv"
    posts.write_text("id,text\n1,what a day\n")
    social = ["run", "social-media", str(posts), "-o", str(tmp_path / "social"), "--no-cache"]
    assert cli.main([*social, "--model", str(tmp_path / "head")]) == 2
    assert "not a social-media model" in capsys.readouterr().err


@pytest.mark.integration
def test_borneo_head_trained_on_a_run_names_another_run(shared_data, tmp_path):
    folder = shared_data / "images" / "camtrapr_borneo"
    with open(folder / "labels.csv", encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    wanted = {"leopard_cat": "leopard cat", "mouse_deer": "mouse deer", "moonrat": "moonrat"}
    train_dir, test_dir = tmp_path / "train", tmp_path / "test"
    train_dir.mkdir(), test_dir.mkdir()
    labels = [("id", "species")]
    for label, name in wanted.items():
        files = sorted(r["file"] for r in rows if r["label"] == label)
        for i, file in enumerate(files[:8]):
            target = (train_dir if i < 6 else test_dir) / f"{label}-{i}.JPG"
            shutil.copyfile(folder / file, target)
            labels.append((target.stem, name))
    (tmp_path / "labels.csv").write_text("\n".join(",".join(r) for r in labels) + "\n")
    species = tmp_path / "species.txt"
    species.write_text("\n".join(wanted.values()) + "\n")
    quiet = ["--no-progress", "-q", "--cameras", "input"]
    train_run = ["run", "wildlife", str(train_dir), "-o", str(tmp_path / "past")]
    assert cli.main([*train_run, "--species", str(species), *quiet]) == 0
    command = ["train", "--labels", str(tmp_path / "labels.csv"), "--data", str(tmp_path / "past")]
    assert cli.main([*command, "--out", str(tmp_path / "head")]) == 0
    record = json.loads((tmp_path / "head" / "training.json").read_text())
    assert record["classes"] == sorted(wanted.values()) and record["labelled"] >= 12
    test_run = ["run", "wildlife", str(test_dir), "-o", str(tmp_path / "new")]
    assert cli.main([*test_run, "--model", str(tmp_path / "head"), *quiet]) == 0
    with open(tmp_path / "new" / "results.csv", encoding="utf-8-sig", newline="") as stream:
        named = [r for r in csv.DictReader(stream) if r["category"] == "animal"]
    assert named, "no animal found in the test thumbnails"
    for row in named:  # the head's species, ranked in top_species
        assert {t.rsplit(" ", 1)[0] for t in row["top_species"].split("; ")} <= set(wanted.values())


def _results(tmp_path, features, y, classes):
    """A wildlife run's results.parquet holding these crops (as ``mmfuse run`` writes it),
    and the labels of its files."""
    from mmfuse.io.writers import write_parquet

    rows = [
        {"id": f"f{i}", "species": "", "crop_features": f, "error": ""}
        for i, f in enumerate(features)
    ]
    path = tmp_path / "results.parquet"
    write_parquet(rows, path, ["id", "species", "crop_features", "error"])
    return path, {f"f{i}": classes[c] for i, c in enumerate(y)}


@pytest.mark.parametrize(("at_the_mean", "kept"), [(True, "prototypes"), (False, "trained")])
def test_training_is_kept_only_when_it_names_held_out_crops_better(
    tmp_path, one_torch_thread, at_the_mean, kept
):
    from mmfuse.tasks.wildlife.training import fit_from_run

    features, y = _clusters(30)
    if at_the_mean:  # each crop is its species' mean: the prototypes cannot be beaten
        features = np.stack([features[y == c].mean(axis=0) for c in y])
    classes = ["civet", "macaque", "pig-tailed macaque"]
    results, labels = _results(tmp_path, features, y, classes)
    labels["f0"] = "blank"  # not a species: left out
    _, record = fit_from_run(results, {"settings": {}}, labels, HeadOptions(epochs=80))
    assert record["kept"] == kept and record["labels_left_out"] == 1
    accuracy = record["held_out_accuracy"]
    assert (accuracy["trained"] > accuracy["prototypes"]) == (kept == "trained")


def test_a_tampered_species_head_is_refused_in_one_line(tmp_path, capsys):
    """Issue 25 #2: a head's files are checked against the SHA-256 recorded when it was
    written, before the run reads its species."""
    from mmfuse.fusion.model import save_model

    features, y = _clusters(5)
    folder = save_model(build_head(["zebra", "giraffe", "lion"], features, y, {}), tmp_path / "h")
    config = json.loads((folder / "config.json").read_text())
    config["tasks"][0]["classes"] = ["giraffe", "zebra", "lion"]
    (folder / "config.json").write_text(json.dumps(config))
    (tmp_path / "survey").mkdir()
    (tmp_path / "survey" / "IMG_0001.JPG").write_bytes(b"not read: the head is refused first")
    species = tmp_path / "species.txt"
    species.write_text("zebra\ngiraffe\nlion\n")
    args = ["run", "wildlife", str(tmp_path / "survey"), "-o", str(tmp_path / "out")]
    assert cli.main([*args, "--model", str(folder), "--species", str(species)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "config.json" in err and "SHA-256" in err
