#!/usr/bin/python3
"""Tests of simulate.py's command line: option checks, the output folder's safety, determinism and the truth's
agreement with the files. Run by ops/test.sh: /usr/bin/python3 -m unittest discover -s ops/model -p 'test_*.py'."""
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import unittest

SIMULATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "simulate.py")
TINY = ["--patients", "1", "--seed", "7", "--fingers", "L2", "--fields", "1", "--size", "128x96"]


def simulate(*args):
    return subprocess.run([sys.executable, SIMULATE, *args], capture_output=True, text=True, timeout=300)


def read(path, mode="rb"):
    with open(path, mode) as f:
        return f.read()


def tree(folder):
    """Relative path -> sha256 of every file under `folder`."""
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            out[os.path.relpath(path, folder)] = hashlib.sha256(read(path)).hexdigest()
    return out


class SimulateTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def test_bad_options_stop_with_a_message_and_write_nothing(self):
        cases = {
            ("--patients", "0"): "--patients must be 1-999",
            ("--seed", "-1"): "--seed must be 0 or more",
            ("--um-per-px", "-1"): "--um-per-px must be 0.5-10",
            ("--size", "10x10"): "--size must be WxH",
            ("--size", "abc"): "--size must be WxH",
            ("--profile", "bogus"): "unknown profile 'bogus'",
            ("--fingers", "X9"): "unknown finger 'X9'",
            ("--fingers", "L2,L2"): "names a finger twice",
            ("--fields", "2-1"): "--fields must be N or MIN-MAX",
            ("--formats", "gif:1"): "--formats takes jpg/png/tif",
            ("--formats", "jpg:0"): "at least one weight above 0",
            ("--jpeg-quality", "5-200"): "--jpeg-quality must be N or MIN-MAX within 1-100",
        }
        for (option, value), message in cases.items():
            with self.subTest(option=option, value=value):
                out = os.path.join(self.dir, "s")
                args = ["--out", out, "--patients", "1", "--seed", "7"]
                r = simulate(*args, option, value)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(message, r.stderr)
                self.assertNotIn("Traceback", r.stderr)
                self.assertFalse(os.path.exists(out))
                self.assertFalse(os.path.exists(out + ".truth.json"))

    def test_study_matches_its_truth_and_is_deterministic(self):
        a, b = os.path.join(self.dir, "a", "study"), os.path.join(self.dir, "b", "study")
        common = ["--patients", "2", "--seed", "11", "--fingers", "L2,R3", "--fields", "1-2", "--size", "192x128",
                  "--formats", "jpg:1,png:1,tif:1", "--profile", "healthy,ssc-late"]
        for out in (a, b):
            r = simulate("--out", out, *common)
            self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(tree(a), tree(b))
        self.assertEqual(read(a + ".truth.json"), read(b + ".truth.json"))
        truth = json.loads(read(a + ".truth.json", "r"))
        files = set(tree(a)) - {"study.json"}
        self.assertEqual({i["file_name"] for i in truth["images"]}, files)
        self.assertEqual([p["patient"] for p in truth["patients"]], ["P001", "P002"])
        self.assertEqual([p["profile"] for p in truth["patients"]], ["healthy", "ssc-late"])
        for ann in truth["annotations"]:
            self.assertEqual(len(ann["keypoints"]), 24)
        self.assertFalse(os.path.exists(a + ".truth.json.partial"))

    def test_small_frames_at_fine_resolution_render(self):
        # The plexus behind the rows once had no room in such frames and the renderer raised.
        for um, size in (("0.5", "256x192"), ("1.0", "256x192"), ("1.5", "192x160")):
            with self.subTest(um=um, size=size):
                out = os.path.join(self.dir, f"s{um}")
                r = simulate("--out", out, "--patients", "2", "--seed", "4", "--fingers", "L2,R3",
                             "--um-per-px", um, "--size", size)
                self.assertEqual(r.returncode, 0, r.stderr)

    def test_a_folder_with_other_files_is_refused_and_left_as_it_is(self):
        out = os.path.join(self.dir, "share")
        os.makedirs(os.path.join(out, "P001", "L2"))
        mine = os.path.join(out, "P001", "L2", "scan.jpg")
        with open(mine, "wb") as f:
            f.write(b"user data")
        for extra in ([], ["--replace"]):
            with self.subTest(extra=extra):
                r = simulate("--out", out, *TINY, *extra)
                self.assertNotEqual(r.returncode, 0)
                self.assertIn("not empty" if not extra else "did not write", r.stderr)
                self.assertEqual(sorted(tree(out)), [os.path.join("P001", "L2", "scan.jpg")])
                self.assertEqual(read(mine), b"user data")

    def test_replace_removes_an_earlier_study_and_its_stale_fields(self):
        out = os.path.join(self.dir, "study")
        big = ["--patients", "2", "--seed", "7", "--fingers", "L2,R3", "--fields", "1", "--size", "128x96"]
        self.assertEqual(simulate("--out", out, *big).returncode, 0)
        r = simulate("--out", out, *TINY)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--replace", r.stderr)
        r = simulate("--out", out, *TINY, "--replace")
        self.assertEqual(r.returncode, 0, r.stderr)
        truth = json.loads(read(out + ".truth.json", "r"))
        self.assertEqual(set(tree(out)) - {"study.json"}, {i["file_name"] for i in truth["images"]})
        self.assertEqual(len(truth["images"]), 1)

    def test_truth_inside_the_study_folder_is_refused(self):
        out = os.path.join(self.dir, "study")
        r = simulate("--out", out, *TINY, "--truth", os.path.join(out, "truth.json"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("inside the study folder", r.stderr)
        self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    unittest.main()
