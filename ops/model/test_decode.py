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

    def test_a_keypoint_off_the_picture_has_no_confidence_as_in_the_csharp_decoder(self):
        # The grid runs on past an image 12 pixels wide (as a bucket's padding would): keypoints located there are no
        # place measured.
        maps = one_instance([[1, 0]] * 6)
        (inst,) = decode.decode(maps, 2, (12, H * 2), (12, H * 2), dict(orient_by_consensus=False))
        kps = inst["keypoints"]
        off = kps[:, 0] > 11.5 + 1e-4
        self.assertTrue(off.any() and (~off).any(), kps[:, 0])
        self.assertTrue((kps[off, 2] == 0).all())
        self.assertTrue((kps[~off, 2] > 0).all())

    def test_keypoints_map_to_original_pixels_about_pixel_centres(self):
        logits = [[1, 0]] * 6
        maps = one_instance(logits)
        (same,) = decode.decode(maps, 2, (W * 2, H * 2), (W * 2, H * 2), dict(orient_by_consensus=False))
        (double,) = decode.decode(maps, 2, (W * 4, H * 4), (W * 2, H * 2), dict(orient_by_consensus=False))
        np.testing.assert_allclose(double["keypoints"][:, :2], (same["keypoints"][:, :2] + 0.5) * 2 - 0.5, rtol=1e-6)


    def test_the_minimum_area_and_the_search_margin_are_in_input_pixels_at_any_stride(self):
        # As DenseDecoderOptions: MinInstanceArea 24 px², KeypointSearchMargin 6 px (in cells they held at stride 2 only).
        def two_cells(stride):
            out = {k: np.zeros(shape, np.float32) for k, shape in (("capillary", (1, H, W)), ("center", (1, H, W)),
                   ("offset", (2, H, W)), ("keypoints", (8, H, W)), ("class_logits", (2, H, W)))}
            out["radius"] = np.ones((1, H, W), np.float32)
            for x in (7, 8):
                out["capillary"][0, 8, x] = 0.9
                out["offset"][:, 8, x] = [(7 - x) * stride, 0.0]
            out["center"][0, 8, 7] = 0.9
            out["keypoints"][:, 8, 11] = 0.9   # 3 cells past the mask: 12 px at stride 4, outside a 6 px margin
            out["keypoints"][:, 8, 10] = 0.5   # 2 cells past it: inside (ceil(6 / 4) = 2 cells)
            return out
        size = lambda stride: (W * stride, H * stride)
        opts = dict(decode.ABLATIONS["independent argmax per channel"], orient_by_brightness=False)
        self.assertEqual([], decode.decode(two_cells(2), 2, size(2), size(2), opts))       # 2 cells of 4 px²: 8 < 24
        (inst,) = decode.decode(two_cells(4), 4, size(4), size(4), opts)                   # 2 cells of 16 px²: 32 >= 24
        self.assertEqual(2, int(inst["cells"].sum()))
        self.assertEqual((10 + 0.5) * 4 - 0.5, float(inst["keypoints"][0, 0]))           # the peak inside the margin

    def test_at_most_max_instances_are_kept_strongest_first(self):
        out = one_instance([[1, 0]] * 6)
        for row in (2, 14):
            out["capillary"][0, row, 5:11] = 0.9
            out["offset"][0, row, 5:11] = [(7 - x) * 2.0 for x in range(5, 11)]
            out["keypoints"][:, row, 5:11] = 0.5
        out["center"][0, 2, 7], out["center"][0, 14, 7] = 0.8, 0.7
        opts = dict(orient_by_consensus=False, orient_by_brightness=False, center_nms_radius=4.0)
        self.assertEqual(3, len(decode.decode(out, 2, (W * 2, H * 2), (W * 2, H * 2), opts)))
        kept = decode.decode(out, 2, (W * 2, H * 2), (W * 2, H * 2), dict(opts, max_instances=2))
        self.assertEqual([8, 2], [int(np.nonzero(i["cells"])[0][0]) for i in kept])


if __name__ == "__main__":
    unittest.main()
