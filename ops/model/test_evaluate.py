#!/usr/bin/python3
"""Tests of evaluate.py's check of its truth, made before the model runs over any image. Run by ops/test.sh."""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evaluate  # noqa: E402

IMAGE = {"id": 1, "file_name": "P1/L2/f1.png", "width": 4, "height": 4, "um_per_px": 2.0, "density_per_mm": 8.0,
         "ungradable": False}
ANNOTATION = {"id": 1, "image_id": 1, "category_id": 1, "segmentation": {"size": [4, 4], "counts": [16]},
              "keypoints": [0] * 24, "apical_diameter_um": 10.0, "arterial_diameter_um": 8.0, "venous_diameter_um": 9.0,
              "distal": True}


class TruthChecks(unittest.TestCase):
    def setUp(self):
        self.study = tempfile.mkdtemp()
        os.makedirs(os.path.join(self.study, "P1", "L2"))
        open(os.path.join(self.study, "P1", "L2", "f1.png"), "wb").close()

    def tearDown(self):
        import shutil
        shutil.rmtree(self.study)

    def test_the_simulators_truth_passes(self):
        self.assertIsNone(evaluate.truth_problem({"images": [IMAGE], "annotations": [ANNOTATION]}, self.study))

    def test_what_only_the_simulator_writes_is_asked_for_by_name(self):
        # A KeyError part way through the images (after the model had run over the earlier ones), before.
        image = {k: v for k, v in IMAGE.items() if k != "um_per_px"}
        self.assertIn("has no um_per_px", evaluate.truth_problem({"images": [image], "annotations": []}, self.study))
        polygon = dict(ANNOTATION, segmentation=[[0, 0, 4, 0, 4, 4]])
        self.assertIn("only uncompressed RLE masks", evaluate.truth_problem({"images": [IMAGE], "annotations": [polygon]}, self.study))

    def test_an_image_the_study_does_not_hold_is_named(self):
        image = dict(IMAGE, file_name="P1/L2/missing.png")
        self.assertIn("P1/L2/missing.png is not in", evaluate.truth_problem({"images": [image], "annotations": []}, self.study))


if __name__ == "__main__":
    unittest.main()
