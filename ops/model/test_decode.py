#!/usr/bin/python3
"""Tests for decode.py where it must agree with the C# DenseDecoder (docs/model-contract.md)."""
import os
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import decode  # noqa: E402

H, W = 16, 16


def one_instance(logits_per_cell):
    """Maps at stride 2 with one instance of 6 cells (row 8, columns 5-10) whose class logits are given per cell."""
    out = {"capillary": np.zeros((1, H, W), np.float32), "center": np.zeros((1, H, W), np.float32),
           "offset": np.zeros((2, H, W), np.float32), "keypoints": np.zeros((8, H, W), np.float32),
           "radius": np.ones((1, H, W), np.float32), "class_logits": np.zeros((2, H, W), np.float32)}
    cells = [(8, x) for x in range(5, 11)]
    for (y, x), logits in zip(cells, logits_per_cell):
        out["capillary"][0, y, x] = 0.9
        out["offset"][:, y, x] = [(7 - x) * 2.0, 0.0]   # every cell votes for the centre cell (8, 7)
        out["class_logits"][:, y, x] = logits
        out["keypoints"][:, y, x] = 0.5
    out["center"][0, 8, 7] = 0.9
    return out


class DecodeTests(unittest.TestCase):
    def test_class_probabilities_are_the_softmax_of_the_mean_logits(self):
        # Mean logits [1, 0.667]: class 0. The mean of per-cell softmaxes would be [0.497, 0.503]: class 1.
        logits = [[6, 0], [0, 1], [0, 1], [0, 1], [0, 1], [0, 1]]
        (inst,) = decode.decode(one_instance(logits), 2, (W * 2, H * 2), (W * 2, H * 2),
                                dict(orient_by_consensus=False))
        mean = np.mean(logits, axis=0)
        expected = np.exp(mean) / np.exp(mean).sum()
        np.testing.assert_allclose(inst["cls_prob"], expected, rtol=1e-5)
        self.assertEqual(0, int(np.argmax(inst["cls_prob"])))

    def test_keypoints_map_to_original_pixels_about_pixel_centres(self):
        logits = [[1, 0]] * 6
        maps = one_instance(logits)
        (same,) = decode.decode(maps, 2, (W * 2, H * 2), (W * 2, H * 2), dict(orient_by_consensus=False))
        (double,) = decode.decode(maps, 2, (W * 4, H * 4), (W * 2, H * 2), dict(orient_by_consensus=False))
        np.testing.assert_allclose(double["keypoints"][:, :2], (same["keypoints"][:, :2] + 0.5) * 2 - 0.5, rtol=1e-6)


if __name__ == "__main__":
    unittest.main()
