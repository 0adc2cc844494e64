"""One rule for stores used together (experiment/train/stores.py; issue 30, item 1): stores of
other videos, split files, weights, settings or another number of views are refused by every
command that reads more than one store, with one line naming the first difference and the
extraction that makes a matching store. Stores are written by hand (``crafted_stores``), with
the extractor's provenance: nothing trains, every refusal comes before any training."""
import json
import re

import numpy as np
import pytest

from caffe_extract.store import StoreError
from caffe_extract.weights import file_sha1
from experiment.future import augment as A
from experiment.future import finetune as FT
from experiment.future import study as F
from experiment.train import stores as S

from . import crafted_stores as crafted

CLASSES = ["Jump", "Sit", "Walk"]


def rows(groups=range(1, 8), clips=2):
    """(videos, labels, groups) of the toy set, in split-file order (class by class)."""
    out = [(f"{c}/v_{c}_g{g:02d}_c{k:02d}.avi", i, g) for i, c in enumerate(CLASSES)
           for g in groups for k in range(1, clips + 1)]
    return [r[0] for r in out], [r[1] for r in out], [r[2] for r in out]


def write_kind(folder, layer="fc7", stream="rgb", views=None, n_views=10, test_groups=(1,),
               groups=range(1, 8), **settings):
    """One store of all splits of the toy set (groups ``test_groups`` test, the others train,
    in every split) with the codes' shape its recipe makes (``n_views``: another on purpose)."""
    from caffe_extract.store import store_name
    videos, labels, group = rows(groups)
    membership = np.where(np.isin(group, test_groups), 2, 1)[:, None].repeat(3, axis=1)
    shape = (len(videos),) + ((n_views,) if views else ()) + (10, S.LAYER_DIMS[layer])
    dtype = np.float16 if settings.get("store_dtype") == "float16" else np.float32
    path = folder / store_name(layer, stream, views=views)
    crafted.write(path, np.zeros(shape, dtype), labels, videos, group, CLASSES, membership,
                  layer=layer, stream=stream, views=views, **settings)
    return path


KINDS = {"flow": {"stream": "flow"}, "crops": {"views": "oversample"},
         "finetune": {"layer": "pool5"}}


@pytest.fixture
def folder(tmp_path):
    """A features folder whose four stores belong together (rgb, flow, views, pool5)."""
    features = tmp_path / "features"
    features.mkdir()
    write_kind(features)
    for kind in KINDS.values():
        write_kind(features, **kind)
    return features


def one_line_error(capsys, code, *says):
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and err[0].startswith("error: "), err
    for text in says:
        assert text in err[0], (text, err[0])
    return err[0]


def future(folder, part, *extra):
    out = folder.parent
    return F.main(["--features", str(folder), "--main", str(out / "main"), "--out",
                   str(out / "future"), "--parts", part, "--hidden", "4", "--epochs", "1",
                   "--seeds", "2", "--no-progress", *extra])


# ------------------------------------------------------------------ the rule, unit by unit

def test_stores_that_belong_together_pass_and_what_may_differ_may(folder):
    write_kind(folder, views="oversample", store_dtype="float16", backend="torch", chunk=8)
    assert S.check_together(str(folder), 1, {}, list(KINDS.values()))
    assert {"stream", "layer", "views", "store_dtype", "backend"} <= set(S.MAY_DIFFER)
    assert not set(S.SAME) & set(S.MAY_DIFFER)


@pytest.mark.parametrize("setting, value", [("weights_sha1", "a" * 40), ("splits_sha1", "b" * 40),
                                            ("video_sizes_sha1", "c" * 40), ("mean", "pixel"),
                                            ("anti_aliasing", True), ("decoder", "moviepy"),
                                            ("config", "modern"), ("resize", "skimage")])
def test_each_setting_that_must_match_is_named_with_both_values(folder, setting, value):
    write_kind(folder, stream="flow", **{setting: value})
    with pytest.raises(StoreError) as error:
        S.check_together(str(folder), 1, {}, [{"stream": "flow"}])
    message = str(error.value)
    assert f"{setting} (" in message and repr(value) in message
    assert "--stream flow" in message and "--random-weights 0" in message


def test_the_first_video_that_differs_is_named():
    videos, labels, groups = rows()
    mine = list(zip(videos, labels, groups))
    swapped = mine[:3] + [mine[4], mine[3]] + mine[5:]
    assert "video 4 is Jump/v_Jump_g02_c02.avi (label 0, group 2) in the first, " \
           "Jump/v_Jump_g03_c01.avi" in S.first_video_difference(mine, swapped, {})
    assert "the second lacks Walk/v_Walk_g07_c02.avi (its extraction failed: unreadable)" in \
        S.first_video_difference(mine, mine[:-1], {"Walk/v_Walk_g07_c02.avi": "unreadable"})
    assert S.first_video_difference(mine, list(mine), {}) is None


@pytest.mark.parametrize("change, says", [
    ({"n_views": 5, "views": "oversample"}, "(5, 10, 4096) per video, but its recipe"),
    ({"layer": "pool5", "chunk": 1}, None),
])
def test_a_store_must_be_what_its_recipe_makes(tmp_path, change, says):
    path = write_kind(tmp_path, **change)
    if says is None:
        assert S.check_recipe(str(path))["layer"] == "pool5"
        return
    with pytest.raises(StoreError, match=r"\(5, 10, 4096\) per video, but its recipe"):
        S.check_recipe(str(path))


def test_a_views_store_of_another_dtype_than_recorded_is_refused(tmp_path):
    import h5py
    path = write_kind(tmp_path, views="oversample", store_dtype="float16")
    with h5py.File(path, "a") as f:
        f.attrs["extraction"] = f.attrs["extraction"].replace('"float16"', '"float32"')
    with pytest.raises(StoreError, match="features are float16, but its recipe records float32"):
        S.check_recipe(str(path))


def test_a_store_without_its_manifest_is_refused_as_older(folder):
    import h5py
    with h5py.File(folder / "all_splits_fc7_flow.h5", "a") as f:
        del f.attrs["extraction"]
    with pytest.raises(StoreError, match="made before stores recorded how they were made .* "
                                         "extract it again"):
        S.check_together(str(folder), 1, {}, [{"stream": "flow"}])


# -------------------------------------------- make future / experiment.future, as a user meets it

@pytest.mark.parametrize("part, kind", [("flow", "flow"), ("fusion", "flow"), ("crops", "crops"),
                                        ("finetune", "finetune")])
def test_future_refuses_a_store_of_other_training_videos(folder, capsys, part, kind):
    """The same video names, another split file: the groups held out for test differ."""
    write_kind(folder, test_groups=(2,), splits_sha1="e" * 40, **KINDS[kind])
    code = future(folder, part, "--random-weights", "0")
    one_line_error(capsys, code, "splits_sha1", "2222", "eeee", "python -m caffe_extract extract")
    assert not (folder.parent / "main").exists()                  # nothing trained


def test_future_refuses_a_store_whose_split_lists_differ_though_recorded_alike(folder, capsys):
    write_kind(folder, stream="flow", test_groups=(2,))
    code = future(folder, "flow")
    one_line_error(capsys, code, "do not hold the same videos in the same order",
                   "split 1's train list", "video 1 is Jump/v_Jump_g02_c01.avi")


def test_future_refuses_a_store_of_another_set_of_videos(folder, capsys):
    write_kind(folder, stream="flow", groups=range(1, 9))
    code = future(folder, "fusion")
    one_line_error(capsys, code, "do not hold the same videos", "video 13 is Sit/v_Sit_g02_c01.avi"
                   " (label 1, group 2) in the first, Jump/v_Jump_g08_c01.avi (label 0, group 8)",
                   "--stream flow")


@pytest.mark.parametrize("part, kind", [("fusion", "flow"), ("crops", "crops")])
def test_future_refuses_a_store_of_other_weights(folder, capsys, part, kind):
    write_kind(folder, weights_sha1="f" * 40, **KINDS[kind])
    one_line_error(capsys, future(folder, part), "weights_sha1", "1111", "ffff")


def test_future_refuses_views_of_another_number(folder, capsys):
    write_kind(folder, views="oversample", n_views=5)
    one_line_error(capsys, future(folder, "crops"), "all_splits_fc7_oversample.h5",
                   "(5, 10, 4096) per video, but its recipe")


def test_future_finetune_needs_the_caffemodel_that_made_the_stores(folder, capsys, tmp_path):
    caffemodel = tmp_path / "other.caffemodel"
    caffemodel.write_bytes(b"not the weights that made the codes")
    code = future(folder, "finetune", "--weights", str(caffemodel))
    one_line_error(capsys, code, "all_splits_fc7.h5 was extracted with the CaffeNet of SHA1 "
                   + "1" * 40, file_sha1(str(caffemodel)))


def test_future_refuses_a_main_table_trained_on_other_codes(folder, capsys):
    main = folder.parent / "main"
    main.mkdir()
    made = json.loads(crafted.provenance(rows()[0], weights_sha1="9" * 40)["extraction"])
    (main / "table.json").write_text(json.dumps({
        "models": [], "provenance": {"weights_sha1": "9" * 40, "extraction": json.dumps(made)}}))
    one_line_error(capsys, future(folder, "tconv"), "cannot be used with the models of",
                   "weights_sha1", "9999")


@pytest.mark.parametrize("recorded, says", [
    ({"split": 2}, "trained on split 2's rgb fc7 codes"),
    ({"settings": {"stream": "flow"}}, "trained on split 1's flow fc7 codes"),
    ({"settings": {"layer": "fc6"}}, "trained on split 1's rgb fc6 codes")])
def test_future_refuses_a_main_table_of_another_split_stream_or_layer(folder, capsys, recorded,
                                                                      says):
    """The main table's models are read back and tested on split 1's RGB fc7 codes: models of
    split 2 (tested on videos they trained on) or of the flow stream, once listed as "(RGB)"
    rows, are refused by what their table.json records."""
    main = folder.parent / "main"
    main.mkdir()
    (main / "table.json").write_text(json.dumps({"models": [], "split": 1, **recorded}))
    one_line_error(capsys, future(folder, "tconv"), f"the models of {main} {says}",
                   "not on split 1's rgb fc7 codes")


def test_future_refuses_a_summary_over_splits_as_its_main_table(folder, capsys):
    main = folder.parent / "main"
    main.mkdir()
    (main / "table.json").write_text(json.dumps({"splits": [1, 2, 3], "settings": {}}))
    one_line_error(capsys, future(folder, "tconv"), "is the summary over splits [1, 2, 3]",
                   f"pass the folder of split 1's models ({main}/split1)")


# ----------------------------------------------- experiment.future.finetune and experiment.future.augment

def test_finetune_refuses_pool5_of_other_weights_than_the_caffemodel(folder, capsys, tmp_path):
    caffemodel = tmp_path / "w.caffemodel"
    caffemodel.write_bytes(b"some weights")
    init = tmp_path / "init"
    init.mkdir()
    (init / "table.json").write_text(json.dumps({"models": [], "provenance": {}}))
    code = FT.main(["--features", str(folder), "--init", str(init), "--out", str(tmp_path / "ft"),
                    "--weights", str(caffemodel), "--no-progress", "--device", "cpu"])
    one_line_error(capsys, code, "all_splits_pool5.h5 was extracted with the CaffeNet of SHA1",
                   file_sha1(str(caffemodel)))


def test_finetune_refuses_pool5_of_other_split_files_than_the_init_models(folder, capsys,
                                                                           tmp_path):
    caffemodel = tmp_path / "w.caffemodel"
    caffemodel.write_bytes(b"some weights")
    write_kind(folder, layer="pool5", weights_sha1=file_sha1(str(caffemodel)))
    init = tmp_path / "init"
    init.mkdir()
    provenance = {"weights_sha1": file_sha1(str(caffemodel)), "splits_sha1": "7" * 40}
    (init / "table.json").write_text(json.dumps({"models": [], "provenance": provenance}))
    code = FT.main(["--features", str(folder), "--init", str(init), "--out", str(tmp_path / "ft"),
                    "--weights", str(caffemodel), "--no-progress", "--device", "cpu"])
    one_line_error(capsys, code, "cannot be used with the models of", "splits_sha1", "7777")


def test_augment_refuses_views_of_another_number(tmp_path, capsys):
    write_kind(tmp_path, views="oversample", n_views=6)
    code = A.main(["--features", str(tmp_path), "--out", str(tmp_path / "r"), "--epochs", "1",
                   "--seeds", "1", "--no-progress"])
    one_line_error(capsys, code, "(6, 10, 4096) per video, but its recipe")


def test_augment_refuses_views_of_another_configuration(tmp_path, capsys):
    """augment trains the ``paper`` configuration's models: views extracted by ``modern``
    (anti-aliased frames) are refused before any training."""
    write_kind(tmp_path, views="oversample", anti_aliasing=True, config="modern")
    code = A.main(["--features", str(tmp_path), "--out", str(tmp_path / "r"), "--epochs", "1",
                   "--seeds", "1", "--no-progress"])
    one_line_error(capsys, code, "was extracted with anti_aliasing True (configuration modern), "
                   "but configuration paper extracts with False")
    assert not list(tmp_path.rglob("*.pt"))


def write_split_pair(folder, test_changes=None, test_classes=CLASSES):
    """A split's two per-split stores (the older layout: train and test of split 1), the test
    store's provenance changed by ``test_changes``."""
    from caffe_extract.store import store_name
    videos, labels, group = rows()
    for subset, keep in (("train", [g != 1 for g in group]), ("test", [g == 1 for g in group])):
        pick = [i for i, k in enumerate(keep) if k]
        changes = {"subset": subset, **((test_changes or {}) if subset == "test" else {})}
        crafted.write(folder / store_name("fc7", "rgb", 1, subset), np.zeros((len(pick), 10, 4096),
                      np.float32), [labels[i] for i in pick], [videos[i] for i in pick],
                      [group[i] for i in pick], test_classes if subset == "test" else CLASSES,
                      **changes)


@pytest.mark.parametrize("changes, says", [
    ({"weights_sha1": "f" * 40}, "were made differently (weights_sha1: '1111"),
    ({"decoder": "moviepy"}, "were made differently (decoder: 'pyav' vs 'moviepy')"),
])
def test_a_splits_train_and_test_stores_made_differently_are_refused(tmp_path, changes, says):
    """The two halves of one per-split extraction (``check_split_pair``) must share weights,
    preprocessing, sampler, decoder, configuration, layer, stream and split files."""
    from experiment.train import load_data
    write_split_pair(tmp_path)
    assert load_data(str(tmp_path), 1, val_groups=2).test.x.shape == (6, 10, 4096)
    write_split_pair(tmp_path, changes)
    with pytest.raises(StoreError, match="train_fc7.h5 and .*test_fc7.h5 " + re.escape(says)):
        load_data(str(tmp_path), 1, val_groups=2)


@pytest.mark.parametrize("changes, says", [
    ({"subset": "train"}, "split1_test_fc7.h5 holds split 1's train list, not split 1's test list"),
    ({"split": 2}, "split1_test_fc7.h5 holds split 2's test list, not split 1's test list"),
])
def test_a_store_under_another_lists_name_is_refused(tmp_path, changes, says):
    """A per-split store renamed (or merged) under another list's name is refused by the split
    and subset it records: a training list copied to the test name once scored 92% on noise."""
    from experiment.train import load_data
    write_split_pair(tmp_path, changes)
    with pytest.raises(StoreError, match=re.escape(says) + r" \(renamed\?\); extract that one "
                                         "with --split 1 --subset test"):
        load_data(str(tmp_path), 1, val_groups=2)


def test_a_splits_train_and_test_stores_of_other_classes_are_refused(tmp_path):
    from experiment.train import load_data
    write_split_pair(tmp_path, test_classes=["Jump", "Sit", "Run"])
    with pytest.raises(StoreError, match="list different classes: made from different "
                                         "classInd.txt files"):
        load_data(str(tmp_path), 1, val_groups=2)


def test_a_configuration_trains_only_on_codes_of_its_own_extraction(folder, capsys):
    """``--config modern`` (anti-aliased frames) on codes extracted under ``paper`` once trained
    and headed its table "modern" with exit 0: refused before any training, by experiment.train
    (one process and --jobs) and experiment.future; a configuration that extracts alike
    (nntools-2015) shares the store."""
    from experiment import train as T
    out = folder.parent / "train"
    argv = ["--features", str(folder), "--out", str(out), "--models", "rnn", "--hidden", "4",
            "--lr", "0.01", "--epochs", "1", "--seeds", "1", "--val-groups", "1", "--no-progress"]
    says = ("all_splits_fc7.h5 was extracted with anti_aliasing False (configuration paper), "
            "but configuration modern extracts with True: extract its codes with --config modern "
            "(make extract CONFIG=modern FEATURES=features-modern; the demo's: make demo "
            "CONFIG=modern), or train with --config paper")
    for extra in (["--jobs", "1"], ["--jobs", "2"], ["--stage", "search", "--task", "0"],
                  ["--stage", "search", "--count"]):        # a cluster's count: no submission
        one_line_error(capsys, T.main(argv + ["--config", "modern", *extra]), says)
    assert not out.exists()
    one_line_error(capsys, future(folder, "tconv", "--config", "modern"), says)
    assert not list(folder.parent.rglob("*.pt"))
    assert T.main(argv + ["--config", "nntools-2015"]) == 0
