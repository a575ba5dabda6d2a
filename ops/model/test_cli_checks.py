#!/usr/bin/python3
"""Tests of the model scripts' input checks (cli_checks.py): a missing file or folder or an impossible count stops a
script with a usage message naming the option. Run by ops/test.sh."""
import argparse
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from cli_checks import existing_dir, existing_file, positive_int  # noqa: E402


class CliCheckTests(unittest.TestCase):
    def test_types(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "w.pt")
            with open(path, "wb") as f:
                f.write(b"x")
            self.assertEqual(existing_file(path), path)
            self.assertEqual(existing_dir(d), d)
            for check, value in ((existing_file, d), (existing_file, path + ".missing"), (existing_dir, path)):
                with self.subTest(check=check.__name__, value=value):
                    with self.assertRaises(argparse.ArgumentTypeError):
                        check(value)
        self.assertEqual(positive_int("3"), 3)
        for value in ("0", "-2", "two", "1.5"):
            with self.subTest(value=value):
                with self.assertRaises(argparse.ArgumentTypeError):
                    positive_int(value)

    def test_scripts_name_the_bad_option(self):
        cases = [
            (["export.py", "--weights", "/nonexistent/final.pt"], "argument --weights: no such file"),
            (["evaluate.py", "--weights", __file__, "--study", "/nonexistent/study"], "argument --study: no such folder"),
            (["quantize.py", "--onnx", "/nonexistent/model.onnx"], "argument --onnx: no such file"),
            (["bench_eager.py", "--weights", __file__, "--limit", "0"], "argument --limit: must be at least 1"),
        ]
        for args, message in cases:
            with self.subTest(script=args[0]):
                r = subprocess.run([sys.executable, os.path.join(HERE, args[0]), *args[1:]], capture_output=True,
                                   text=True, timeout=300)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(message, r.stderr)
                self.assertNotIn("Traceback", r.stderr)

    def test_evaluate_takes_study_and_truth_together(self):
        with tempfile.TemporaryDirectory() as d:
            truth = os.path.join(d, "s.truth.json")
            with open(truth, "w") as f:
                f.write("{}")
            cases = [
                (["--study", d], "--study and --truth go together"),
                (["--truth", truth], "--study and --truth go together"),
                (["--fingers", "L2,X9"], "argument --fingers"),
                (["--fingers", "L2,L2"], "argument --fingers"),
            ]
            for args, message in cases:
                with self.subTest(args=args):
                    r = subprocess.run([sys.executable, os.path.join(HERE, "evaluate.py"), "--weights", __file__,
                                        *args], capture_output=True, text=True, timeout=300, cwd=d)
                    self.assertEqual(r.returncode, 2, r.stderr)
                    self.assertIn(message, r.stderr)
                    self.assertNotIn("Traceback", r.stderr)
                    self.assertFalse(os.path.exists(os.path.join(d, ".local")))

    def test_evaluate_names_the_cached_study_by_its_fingers(self):
        import evaluate
        default = evaluate.heldout_name(777, 8, evaluate.DEFAULT_FINGERS.split(","))
        self.assertEqual(default, "heldout-777-8")   # the name ops/lib/common.sh and the model card use
        others = {evaluate.heldout_name(777, 8, f.split(",")) for f in ("L2,R3", "R3,L2", "L2,L4,R3", "L2")}
        self.assertEqual(len(others), 4)
        self.assertNotIn(default, others)
        self.assertIn("heldout-777-8-L2-R3", others)

    def test_evaluate_with_nothing_to_compare_writes_valid_json(self):
        # No image with a density to compare (here none at all): the mean of nothing was NaN, which JSON cannot hold.
        import json
        import evaluate
        with tempfile.TemporaryDirectory() as d:
            truth = os.path.join(d, "truth.json")
            with open(truth, "w") as f:
                json.dump({"images": [], "annotations": []}, f)
            res = evaluate.evaluate(None, d, truth)
        self.assertIsNone(res["density_mae_per_mm"])
        json.dumps(res, allow_nan=False)


if __name__ == "__main__":
    unittest.main()
