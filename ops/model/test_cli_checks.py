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


if __name__ == "__main__":
    unittest.main()
