"""How data/digits/{train,test}.npz were made (needs scikit-learn; not run by tfkit).

scikit-learn's bundled copy of the UCI optical-recognition digits (1,797
images of 8x8 pixels, values 0-16) resized to 32x32 (bilinear), scaled to
0-255 uint8 with one channel, and split 80/20 by a seeded permutation.
"""

import os

import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits

digits = load_digits()
images = digits.images.astype("float32")[..., None] * (255.0 / 16.0)
images = tf.image.resize(images, [32, 32], method="bilinear").numpy()
images = np.clip(np.round(images), 0, 255).astype("uint8")
order = np.random.default_rng(0).permutation(len(images))
cut = int(round(0.8 * len(images)))
folder = os.path.dirname(os.path.abspath(__file__))
for name, part in (("train", order[:cut]), ("test", order[cut:])):
    np.savez_compressed(os.path.join(folder, f"{name}.npz"), images=images[part], labels=digits.target[part].astype("int64"),
                        class_names=np.array([str(d) for d in range(10)]))
    print(name, images[part].shape, np.bincount(digits.target[part]))
