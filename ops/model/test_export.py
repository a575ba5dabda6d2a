#!/usr/bin/python3
"""Tests of export.py's checks: the traced-against-eager comparison and the size limit run before --out is replaced,
and a failure leaves --out and its .sha256 as they were. Run by ops/test.sh."""
import contextlib
import hashlib
import io
import os
import sys
import tempfile
import unittest
from unittest import mock

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import export  # noqa: E402
from nfcnet import NfcNet  # noqa: E402
from nfcsim_shapes import CLASSES  # noqa: E402

WIDTHS = (8, 8, 8, 8, 8)   # a small net: quick to trace and export


class ExportTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        torch.manual_seed(0)
        self.weights = os.path.join(self.dir, "final.pt")
        torch.save({"model": NfcNet(len(CLASSES), WIDTHS).state_dict(), "config": {"widths": list(WIDTHS), "seed": 1},
                    "step": 1}, self.weights)
        self.out = os.path.join(self.dir, "model.onnx")

    def tearDown(self):
        self.tmp.cleanup()

    def export(self):
        """export.main on the small net; (exit code or None, stdout)."""
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(io.StringIO()):
            try:
                export.main(["--weights", self.weights, "--out", self.out, "--channel-multiple", "1"])
            except SystemExit as e:
                return e.code, stdout.getvalue()
        return None, stdout.getvalue()

    def assert_old_files_kept(self):
        with open(self.out, "rb") as f:
            self.assertEqual(f.read(), b"old model")
        with open(self.out + ".sha256") as f:
            self.assertEqual(f.read(), "old sum\n")
        self.assertEqual(sorted(os.listdir(self.dir)), ["final.pt", "model.onnx", "model.onnx.sha256"])

    def write_old_files(self):
        with open(self.out, "wb") as f:
            f.write(b"old model")
        with open(self.out + ".sha256", "w") as f:
            f.write("old sum\n")

    def test_success_replaces_the_model_and_its_checksum(self):
        self.write_old_files()
        code, _ = self.export()
        self.assertIsNone(code)
        with open(self.out, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        with open(self.out + ".sha256") as f:
            self.assertEqual(f.read(), f"{digest}  model.onnx\n")
        self.assertEqual(sorted(os.listdir(self.dir)), ["final.pt", "model.onnx", "model.onnx.sha256"])

    def test_a_trace_that_differs_from_eager_writes_nothing(self):
        self.write_old_files()
        real_trace = torch.jit.trace

        def wrong_trace(model, x):
            traced = real_trace(model, x)
            return lambda inp: tuple(o + 1 for o in traced(inp))
        with mock.patch("torch.jit.trace", wrong_trace), mock.patch("torch.onnx.export") as onnx_export:
            code, _ = self.export()
        self.assertTrue(code)   # a message: a non-zero exit
        self.assertIn("differs from eager", code)
        onnx_export.assert_not_called()   # compared before the export
        self.assert_old_files_kept()

    def test_a_model_over_the_size_limit_writes_nothing(self):
        self.write_old_files()
        with mock.patch.object(export, "MAX_BYTES", 1000):
            code, _ = self.export()
        self.assertTrue(code)
        self.assertIn("over the 10 MB limit", code)
        self.assert_old_files_kept()


if __name__ == "__main__":
    unittest.main()


class PaddingSentenceTests(unittest.TestCase):
    def test_the_padding_is_read_at_the_first_downsampling_convolution(self):
        # With --full-res-channels the first Conv works at the input's resolution and is never padded: the card
        # read its 16 channels as the stride-2 width ("-8 of them always zero").
        import onnx
        from onnx import TensorProto, helper
        import write_card

        def conv(name, inp, out, channels, stride):
            weight = helper.make_tensor(name + ".w", TensorProto.FLOAT, [channels, 3, 1, 1], [0.0] * (channels * 3))
            return helper.make_node("Conv", [inp, name + ".w"], [out], strides=[stride, stride]), weight

        full, w_full = conv("full", "x", "a", 16, 1)
        down, w_down = conv("down", "a", "y", 32, 2)
        graph = helper.make_graph([full, down], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w_full, w_down])
        model = helper.make_model(graph)
        self.assertIsInstance(model, onnx.ModelProto)
        self.assertEqual(write_card.padding_sentence(model, 32), [])
        self.assertIn("stride-2 level at 32 channels, 8 of them always zero", " ".join(write_card.padding_sentence(model, 24)))
