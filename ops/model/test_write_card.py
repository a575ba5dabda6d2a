#!/usr/bin/python3
"""Tests of the model card's target verdicts (write_card.py): each figure beside its target says whether it meets it,
judged on the value as the card shows it. Run by ops/test.sh."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from write_card import diameter_verdicts, meets, target_verdict  # noqa: E402


class VerdictTests(unittest.TestCase):
    def test_a_figure_meets_or_misses_its_target_as_shown(self):
        self.assertEqual(meets(0.917, 0.90, at_least=True), "(meets)")
        self.assertEqual(meets(0.899, 0.90, at_least=True), "(misses)")
        self.assertEqual(meets(0.262, 0.5), "(meets)")
        self.assertEqual(meets(0.504, 0.5), "(misses)")
        self.assertEqual(meets(0.5004, 0.5), "(meets)")  # shown as 0.500
        self.assertEqual(meets(None, 0.5), "(n/a)")

    def test_the_python_tables_verdict_is_judged_as_shown_as_the_csharp_tables_is(self):
        # F1 0.8996 was shown as "0.900 (misses target)" beside the C# table's "(meets)".
        self.assertEqual(target_verdict(0.8996, 0.90, at_least=True), "meets target")
        self.assertEqual(target_verdict(0.8994, 0.90, at_least=True), "misses target")
        self.assertEqual(target_verdict(2.004, 2.0, nd=2), "meets target")
        self.assertEqual(target_verdict(None, 0.5), "n/a")

    def test_the_diameters_name_the_ones_that_miss(self):
        mae = lambda a, r, v: {"apical": {"mae_um": a}, "arterial": {"mae_um": r}, "venous": {"mae_um": v}}  # noqa: E731
        self.assertEqual(diameter_verdicts(mae(2.20, 1.76, 1.66)), "(apical misses; arterial, venous meet)")
        self.assertEqual(diameter_verdicts(mae(2.23, 2.13, 1.95)), "(apical, arterial miss; venous meets)")
        self.assertEqual(diameter_verdicts(mae(2.31, 2.06, 2.01)), "(apical, arterial, venous miss)")
        self.assertEqual(diameter_verdicts(mae(1.48, 1.53, 2.004)), "(meets)")  # shown as 2.00
        self.assertEqual(diameter_verdicts({}), "(n/a)")


if __name__ == "__main__":
    unittest.main()
