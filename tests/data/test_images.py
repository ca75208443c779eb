"""Image sets: both CIFAR-10 layouts, image folders, numpy files, TFRecords, augmentation, and their errors."""

import os
import pickle

import numpy as np
import pytest
import tensorflow as tf

from tfkit import data
from tfkit.errors import DataError

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def random_images(count, seed=0, shape=(32, 32, 3)):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, *shape), dtype=np.uint8), rng.integers(0, 10, count)


def cifar_rows(images):
    """The CIFAR-10 row layout: 1024 red, 1024 green, 1024 blue values per image, written here independently."""
    return np.stack([np.concatenate([image[:, :, c].ravel() for c in range(3)]) for image in images])


def write_cifar_python(folder, per_batch=4):
    os.makedirs(folder, exist_ok=True)
    expected = {}
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        images, labels = random_images(per_batch, seed=i)
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump({b"batch_label": name.encode(), b"labels": labels.tolist(), b"data": cifar_rows(images),
                         b"filenames": [b"x.png"] * per_batch}, f)
        expected[name] = (images, labels)
    with open(os.path.join(folder, "batches.meta"), "wb") as f:
        pickle.dump({b"label_names": [c.encode() for c in CLASSES], b"num_vis": 3072}, f)
    return expected


def write_cifar_binary(folder, per_batch=4):
    os.makedirs(folder, exist_ok=True)
    expected = {}
    for i, name in enumerate([f"data_batch_{k}.bin" for k in range(1, 6)] + ["test_batch.bin"]):
        images, labels = random_images(per_batch, seed=10 + i)
        records = np.concatenate([labels.astype(np.uint8)[:, None], cifar_rows(images)], axis=1)
        with open(os.path.join(folder, name), "wb") as f:
            f.write(records.tobytes())
        expected[name] = (images, labels)
    with open(os.path.join(folder, "batches.meta.txt"), "w") as f:
        f.write("\n".join(CLASSES) + "\n\n")
    return expected


@pytest.mark.parametrize("layout", ["python", "binary"])
def test_both_cifar10_layouts_read_back_pixel_for_pixel(tmp_path, layout):
    folder = str(tmp_path / layout)
    expected = (write_cifar_python if layout == "python" else write_cifar_binary)(folder)
    suffix = "" if layout == "python" else ".bin"
    train = data.read_cifar10(folder, "train")
    test = data.read_cifar10(folder, "test")
    assert train.images.shape == (20, 32, 32, 3) and train.images.dtype == np.uint8
    np.testing.assert_array_equal(train.images, np.concatenate([expected[f"data_batch_{k}{suffix}"][0] for k in range(1, 6)]))
    np.testing.assert_array_equal(train.labels, np.concatenate([expected[f"data_batch_{k}{suffix}"][1] for k in range(1, 6)]))
    np.testing.assert_array_equal(test.images, expected[f"test_batch{suffix}"][0])
    assert train.class_names == CLASSES
    # One batch file alone.
    one = data.read_cifar10(os.path.join(folder, f"data_batch_2{suffix}"))
    np.testing.assert_array_equal(one.images, expected[f"data_batch_2{suffix}"][0])


def test_cifar10_errors_name_the_file(tmp_path):
    folder = str(tmp_path / "bin")
    write_cifar_binary(folder)
    truncated = os.path.join(folder, "data_batch_3.bin")
    with open(truncated, "r+b") as f:
        f.truncate(3073 * 2 + 100)
    with pytest.raises(DataError, match=r"data_batch_3\.bin: 6246 bytes is not a whole number of 3073-byte"):
        data.read_cifar10(folder)

    folder = str(tmp_path / "py")
    write_cifar_python(folder)
    path = os.path.join(folder, "data_batch_4")
    content = open(path, "rb").read()
    open(path, "wb").write(content[: len(content) // 2])
    with pytest.raises(DataError, match=r"data_batch_4: not a CIFAR-10 python batch; the file is truncated or corrupt"):
        data.read_cifar10(folder)

    # A pickle that would run code is refused, not executed.
    with open(path, "wb") as f:
        pickle.dump({b"data": os.system, b"labels": []}, f)
    with pytest.raises(DataError, match="refusing to load posix.system|refusing to load os.system"):
        data.read_cifar10(folder)

    os.remove(path)
    with pytest.raises(DataError, match="incomplete; missing data_batch_4"):
        data.read_cifar10(folder)
    with pytest.raises(DataError, match="no CIFAR-10 test batches"):
        data.read_cifar10(str(tmp_path), "test")

    bad_label = str(tmp_path / "label")
    images, labels = random_images(3)
    labels[1] = 12
    os.makedirs(bad_label)
    with open(os.path.join(bad_label, "test_batch.bin"), "wb") as f:
        f.write(np.concatenate([labels.astype(np.uint8)[:, None], cifar_rows(images)], axis=1).tobytes())
    with pytest.raises(DataError, match=r"test_batch\.bin, record 2: label 12 is not a class id in \[0, 10\)"):
        data.read_cifar10(bad_label, "test")


def test_image_folder_decodes_resizes_and_names_a_corrupt_file(tmp_path):
    images, _ = random_images(4, shape=(20, 24, 3))
    for i, name in enumerate(["dog", "cat", "cat", "dog"]):
        os.makedirs(tmp_path / name, exist_ok=True)
        encoded = (tf.io.encode_png if i % 2 else tf.io.encode_jpeg)(images[i]).numpy()
        (tmp_path / name / f"{i}.{'png' if i % 2 else 'jpg'}").write_bytes(encoded)
    result = data.read_image_folder(str(tmp_path))
    assert result.class_names == ["cat", "dog"]
    assert result.labels.tolist() == [0, 0, 1, 1]
    np.testing.assert_array_equal(result.images[0], images[1])  # cat/1.png: PNG is lossless
    assert data.read_image_folder(str(tmp_path), image_size=[8, 8]).images.shape == (4, 8, 8, 3)

    (tmp_path / "cat" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(DataError, match=r"cat/broken\.png: not a readable image"):
        data.read_image_folder(str(tmp_path))
    (tmp_path / "cat" / "broken.png").unlink()
    (tmp_path / "cat" / "big.png").write_bytes(tf.io.encode_png(np.zeros((9, 9, 3), np.uint8)).numpy())
    with pytest.raises(DataError, match=r"big\.png: image is \[9, 9, 3\] .* give image_size"):
        data.read_image_folder(str(tmp_path))


def test_numpy_files_and_their_errors(tmp_path):
    path = str(tmp_path / "set.npz")
    images, labels = random_images(5, shape=(8, 8, 3))
    np.savez(path, images=images, labels=labels, class_names=np.array(CLASSES))
    result = data.read_numpy(path)
    np.testing.assert_array_equal(result.images, images)
    assert result.class_names == CLASSES
    np.savez(path, images=images.astype("float32"), labels=labels)
    with pytest.raises(DataError, match="images must be uint8"):
        data.read_numpy(path)
    np.savez(path, pixels=images)
    with pytest.raises(DataError, match="no images or labels array; it holds pixels"):
        data.read_numpy(path)
    (tmp_path / "set.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="set.npz: not a readable .npz file"):
        data.read_numpy(path)


def test_tfrecords_round_trip_in_shards_and_name_a_damaged_file(tmp_path):
    images, labels = random_images(11)
    files = data.write_tfrecords(data.ImageSet(images, labels), str(tmp_path / "out" / "train"), num_shards=3)
    assert [os.path.basename(f) for f in files] == [f"train-0000{i}-of-00003.tfrecord" for i in range(3)]
    assert sorted(os.listdir(tmp_path / "out")) == sorted(os.path.basename(f) for f in files)  # no temporaries left
    read = sorted(((image.numpy().tobytes(), int(label)) for image, label in data.read_tfrecords(files)))
    assert read == sorted((image.tobytes(), int(label)) for image, label in zip(images, labels))

    truncated = files[1]
    content = open(truncated, "rb").read()
    open(truncated, "wb").write(content[:-40])
    with pytest.raises(DataError, match=r"train-00001-of-00003\.tfrecord: truncated after 3 whole records"):
        data.read_tfrecords(files)
    open(truncated, "wb").write(content)

    damaged = bytearray(open(files[2], "rb").read())
    damaged[200] ^= 0xFF  # inside the first record's image bytes: its checksum no longer matches
    open(files[2], "wb").write(bytes(damaged))
    dataset = data.read_tfrecords(files)
    with pytest.raises(tf.errors.DataLossError) as raised:
        list(dataset)
    explained = data.explain(raised.value)
    assert isinstance(explained, DataError)
    assert "train-00002-of-00003.tfrecord: corrupted record at 12; the file is damaged" in str(explained)


def test_image_dataset_batches_augments_holds_out_and_checks_the_shape(tmp_path):
    images, labels = random_images(50)
    image_set = data.ImageSet(images, labels)
    plain = list(data.image_dataset(image_set, 16))
    assert [len(y) for _, y in plain] == [16, 16, 16, 2]
    np.testing.assert_array_equal(plain[0][0]["image"].numpy(), images[:16])

    validation = np.concatenate([y.numpy() for _, y in data.image_dataset(image_set, 64, holdout=("validation", 0.2))])
    train = np.concatenate([y.numpy() for _, y in data.image_dataset(image_set, 64, holdout=("train", 0.2))])
    assert len(validation) + len(train) == 50 and 3 <= len(validation) <= 20
    again = np.concatenate([y.numpy() for _, y in data.image_dataset(image_set, 64, holdout=("validation", 0.2))])
    np.testing.assert_array_equal(validation, again)

    augmented = data.augment(images[0], pad=4, flip=False, seed=1).numpy()
    # A crop of the zero-padded image: some shift (dy, dx) in [-4, 4]² maps it onto the original.
    padded = np.pad(images[0], [[4, 4], [4, 4], [0, 0]])
    assert any(np.array_equal(augmented, padded[dy:dy + 32, dx:dx + 32]) for dy in range(9) for dx in range(9))
    flipped = data.augment(images[0], pad=0, flip=True, seed=3)
    assert flipped.shape == (32, 32, 3)
    # A random flip: of 40 draws, about half flipped (fewer than 5 either way: 2 in 10^7), the others untouched.
    draws = [data.augment(images[0], pad=0, flip=True).numpy() for _ in range(40)]
    mirrored = [np.array_equal(draw, images[0][:, ::-1]) for draw in draws]
    assert all(m or np.array_equal(draw, images[0]) for m, draw in zip(mirrored, draws))
    assert 5 <= sum(mirrored) <= 35, sum(mirrored)

    with pytest.raises(DataError, match=r"images are \[32, 32, 3\] .* model takes \[28, 28, 1\]"):
        data.image_dataset(image_set, 8, image_shape=[28, 28, 1])
    files = data.write_tfrecords(image_set, str(tmp_path / "set"))
    with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        list(data.image_dataset(data.read_tfrecords(files), 8, image_shape=[28, 28, 1]))
    assert "an image of the data is 32x32x3 but the model takes 28x28x1" in str(data.explain(raised.value))
    with pytest.raises(DataError, match="augmentation.rotate: unknown key"):
        data.image_dataset(image_set, 8, training=True, augmentation={"rotate": 10})


def test_several_numpy_files_make_one_set_and_must_agree(tmp_path):
    first, second, other = (str(tmp_path / f"{name}.npz") for name in ("a", "b", "c"))
    np.savez(first, images=np.zeros((2, 4, 4, 1), "uint8"), labels=[0, 1])
    np.savez(second, images=np.ones((3, 4, 4, 1), "uint8"), labels=[1, 1, 0])
    np.savez(other, images=np.ones((3, 5, 5, 1), "uint8"), labels=[1, 1, 0])
    both = data.read_images([first, second], "numpy")
    assert both.images.shape == (5, 4, 4, 1) and both.labels.tolist() == [0, 1, 1, 1, 0]
    with pytest.raises(DataError, match=r"c\.npz: its images \(\[5, 5, 1\]\) or class names differ"):
        data.read_images([first, other], "numpy")
