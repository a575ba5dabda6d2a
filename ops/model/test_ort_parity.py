#!/usr/bin/python3
"""Tests of ort_parity.py's refusals: they come before ONNX Runtime or the weights are loaded. Run by ops/test.sh."""
import contextlib
import io
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ort_parity  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class OrtParityRefusals(unittest.TestCase):
    def test_a_folder_without_images_is_refused_before_anything_is_loaded(self):
        # It compared nothing, printed an empty difference and exited 0; the card's line then failed at its max().
        with tempfile.TemporaryDirectory() as empty:
            weights = os.path.join(empty, "final.pt")
            open(weights, "wb").close()   # never read: the refusal comes first
            with self.assertRaises(SystemExit) as stop:
                ort_parity.main(["--onnx", os.path.join(ROOT, "models", "nfc-reference.onnx"), "--weights", weights,
                                 "--lib", os.path.join(ROOT, "models", "nfc-reference.onnx"), "--images", empty])
            self.assertIn("no .jpg images under", str(stop.exception.code))


if __name__ == "__main__":
    unittest.main()
