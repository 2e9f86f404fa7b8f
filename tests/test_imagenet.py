"""The ImageNet evaluation set: the committed subset, both folder layouts, label files, decoding
and the errors a user with a broken copy meets."""

from __future__ import annotations

import collections

import numpy as np
import pytest
from fake_imagenet import SUBSET, make_fake_imagenet, make_fake_train, photo, write_label_file

from satsim.data.imagenet import (
    check_label_file,
    decode_images,
    read_subset,
    synsets,
    train_classes,
    train_subset,
)
from satsim.data.imagenet_layout import (
    FLAT,
    SYNSET_FOLDERS,
    ImageNetError,
    detect_layout,
    locate_images,
)


def test_committed_subset_is_5_per_class_and_every_prefix_is_balanced():
    subset = read_subset(SUBSET, 5000)
    per_class = collections.Counter(entry.label for entry in subset)
    assert len(per_class) == 1000 and set(per_class.values()) == {5}
    assert len({entry.id for entry in subset}) == 5000
    assert [entry.label for entry in subset[:1000]] == list(range(1000))
    assert all(synsets()[entry.label] == entry.wnid for entry in subset)
    # Known ground truth: the first validation image of class 0 (tench) is 00000293.
    assert subset[0].image == "ILSVRC2012_val_00000293.JPEG" and subset[0].wnid == "n01440764"


def test_asking_for_more_images_than_the_list_has_names_the_key():
    with pytest.raises(ImageNetError, match="data.eval_size is 5001"):
        read_subset(SUBSET, 5001)


@pytest.mark.parametrize("layout", [FLAT, SYNSET_FOLDERS])
def test_both_layouts_give_the_same_images(tmp_path, layout):
    subset = make_fake_imagenet(tmp_path / layout, 6, layout)
    assert detect_layout(tmp_path / layout) == layout
    paths = locate_images(tmp_path / layout, subset)
    images = decode_images(paths, 64, threads=2)
    assert images.shape == (6, 3, 64, 64) and images.dtype == np.uint8
    reference = make_fake_imagenet(tmp_path / "other", 6, FLAT)
    assert np.array_equal(images, decode_images(locate_images(tmp_path / "other", reference), 64))


def test_a_wrong_path_says_what_to_point_at(tmp_path):
    with pytest.raises(ImageNetError, match="no such folder"):
        detect_layout(tmp_path / "nope")
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"")
    with pytest.raises(ImageNetError, match="neither synset folders"):
        detect_layout(tmp_path / "photos")


def test_missing_images_are_counted_and_named(tmp_path):
    subset = make_fake_imagenet(tmp_path, 4, FLAT, extra=0)
    (tmp_path / subset[2].image).unlink()
    with pytest.raises(ImageNetError, match=rf"2 of the 5 .*{subset[2].image}"):
        locate_images(tmp_path, read_subset(SUBSET, 5))


def test_an_image_filed_under_the_wrong_synset_is_refused(tmp_path):
    subset = make_fake_imagenet(tmp_path, 3, SYNSET_FOLDERS)
    wrong = tmp_path / subset[0].wnid / subset[1].image
    (tmp_path / subset[1].wnid / subset[1].image).rename(wrong)
    with pytest.raises(ImageNetError, match=f"filed under {subset[0].wnid}.*says {subset[1].wnid}"):
        locate_images(tmp_path, subset)


def test_an_unreadable_jpeg_is_named(tmp_path):
    subset = make_fake_imagenet(tmp_path, 3, FLAT)
    broken = tmp_path / subset[1].image
    broken.write_bytes(broken.read_bytes()[:200])  # truncated download
    with pytest.raises(ImageNetError, match=f"cannot decode {broken}"):
        decode_images(locate_images(tmp_path, subset), 32)


def test_greyscale_and_cmyk_jpegs_become_rgb(tmp_path):
    grey, cmyk = tmp_path / "grey.JPEG", tmp_path / "cmyk.JPEG"
    photo(1).convert("L").save(grey)
    photo(2).convert("CMYK").save(cmyk)
    images = decode_images([grey, cmyk], 32)
    assert images.shape == (2, 3, 32, 32)
    assert np.array_equal(images[0, 0], images[0, 1])  # grey: equal channels


@pytest.mark.parametrize("style", ["loc", "wnid", "index"])
def test_label_files_in_each_format_are_checked_against_the_subset(tmp_path, style):
    subset = read_subset(SUBSET, 20)
    good = write_label_file(tmp_path / f"{style}.txt", subset, style)
    check_label_file(good, subset, SUBSET)
    swapped = subset[:]
    swapped[3], swapped[4] = subset[4], subset[3]
    relabelled = [type(e)(e.image, s.wnid, s.label) for e, s in zip(subset, swapped, strict=True)]
    bad = write_label_file(tmp_path / f"bad-{style}.txt", relabelled, style)
    with pytest.raises(ImageNetError, match="disagrees with .* on 2 of 20 images"):
        check_label_file(bad, subset, SUBSET)


def test_devkit_ground_truth_is_refused_with_the_reason(tmp_path):
    devkit = tmp_path / "ILSVRC2012_validation_ground_truth.txt"
    devkit.write_text("490\n361\n171\n")
    with pytest.raises(ImageNetError, match="devkit's class order"):
        check_label_file(devkit, read_subset(SUBSET, 3), SUBSET)


def test_a_label_file_without_the_subset_images_is_refused(tmp_path):
    subset = read_subset(SUBSET, 10)
    partial = write_label_file(tmp_path / "val.txt", subset[:5], "wnid")
    with pytest.raises(ImageNetError, match="no label for 5 evaluation images"):
        check_label_file(partial, subset, SUBSET)


def test_training_subset_is_the_same_in_both_layouts(tmp_path):
    make_fake_train(tmp_path / "nested", 3, 2, seed=5, layout="synset_folders")
    make_fake_train(tmp_path / "flat", 3, 2, seed=5, layout="flat")
    nested, nested_labels = train_subset(tmp_path / "nested", 3, 2, seed=5)
    flat, flat_labels = train_subset(tmp_path / "flat", 3, 2, seed=5)
    assert nested_labels == flat_labels == [c for c in train_classes(3, 5) for _ in range(2)]
    assert [p.name for p in nested] == [p.name for p in flat]
    with pytest.raises(ImageNetError, match="fewer than distillation.train_images_per_class = 9"):
        train_subset(tmp_path / "flat", 3, 9, seed=5)
