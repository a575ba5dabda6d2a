#!/usr/bin/python3
"""Tests of the training cache (nfc_data.build_cache): rendered once, reused, and rendered again when it cannot be read.
Run by ops/test.sh."""
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import nfc_data  # noqa: E402


class TrainingCacheTests(unittest.TestCase):
    def test_a_cache_cut_short_is_rendered_again_and_then_reused(self):
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "cache.npz")
            with open(path, "wb") as f:
                f.write(b"PK\x03\x04 cut short by a power cut")
            said = []
            fields = nfc_data.build_cache(path, seed=7, count=1, log=said.append)
            self.assertEqual(len(fields), 1)
            self.assertTrue(any("cannot be read" in s for s in said), said)
            self.assertFalse(os.path.exists(path + ".tmp.npz"))

            written = os.stat(path).st_mtime_ns
            again = nfc_data.build_cache(path, seed=7, count=1, log=said.append)
            self.assertEqual(os.stat(path).st_mtime_ns, written)   # read, not rendered again
            self.assertTrue((again[0]["image"] == fields[0]["image"]).all())


if __name__ == "__main__":
    unittest.main()
