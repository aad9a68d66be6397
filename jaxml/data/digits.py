"""scikit-learn's handwritten digits (UCI ML hand-written digits, 1,797 8x8 images, 10 classes).

The data ship inside scikit-learn, so nothing is downloaded.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


class Split(NamedTuple):
    x: np.ndarray  # [N, 64] float32 pixel intensities scaled to [0, 1].
    y: np.ndarray  # [N] int32 class labels in 0..9.


class Digits(NamedTuple):
    train: Split
    test: Split


NUM_CLASSES = 10
NUM_FEATURES = 64


def load_digits_split(test_fraction: float = 0.2, split_seed: int = 0) -> Digits:
    """A stratified train/test split of the digits; the same ``split_seed`` gives the same split."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction={test_fraction}: must be in (0, 1)")
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)  # Pixel values are integers 0..16.
    y = y.astype(np.int32)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=test_fraction, random_state=split_seed, stratify=y
    )
    return Digits(Split(x_tr, y_tr), Split(x_te, y_te))
