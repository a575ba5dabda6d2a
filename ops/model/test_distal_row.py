#!/usr/bin/python3
"""Tests for distal_row.py, the Python port of the C# DistalRowFinder (the cases of DistalRowTests.cs)."""
import os
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import distal_row  # noqa: E402

WIDTH, HEIGHT, UM_PER_PX = 1024, 768, 2.0


def loop(apex, degrees=0.0, apical=8.0, height=90.0, width=30.0):
    """As Loops.Loop in the C# tests: U at `apex`, pointing up turned by `degrees`, limbs half-way, bottoms at `height`."""
    t = np.radians(degrees)
    distal = np.array([np.sin(t), -np.cos(t)])
    along = np.array([np.cos(t), np.sin(t)])
    apex = np.asarray(apex, float)

    def at(u, v):
        return apex + along * u + distal * v
    half = width / 2
    points = [at(0, 0), at(0, -apical), at(-half, -height / 2), at(-half + 5, -height / 2), at(half - 6, -height / 2),
              at(half, -height / 2), at(-half + 2.5, -height), at(half - 3, -height)]
    keypoints = np.array([[p[0], p[1], 0.9] for p in points])
    mask = np.zeros((HEIGHT, WIDTH), bool)
    cx, cy = np.round(at(0, -height / 2)).astype(int)
    mask[cy - 2:cy + 3, cx - 2:cx + 3] = True   # inside the frame: no apex cut by it
    return dict(keypoints=keypoints, mask=mask)


def find(loops):
    return distal_row.find(loops, WIDTH, HEIGHT, UM_PER_PX, lambda c: c["mask"])


class DistalRowTests(unittest.TestCase):
    def test_a_sparse_row_leaning_against_upright_loops_keeps_all_its_loops(self):
        for count, spacing, row_degrees in [(7, 150, 15), (5, 200, 12), (5, 200, -20)]:
            t = np.radians(row_degrees)
            along = np.array([np.cos(t), np.sin(t)])
            start = np.array([512.0, 300.0]) - along * (spacing * (count - 1) / 2)
            distal, length_mm, density = find([loop(start + along * spacing * i) for i in range(count)])
            with self.subTest(count=count, spacing=spacing, row_degrees=row_degrees):
                self.assertEqual(list(range(count)), distal)
                self.assertAlmostEqual(count / length_mm, density, places=9)

    def test_one_stray_apex_in_front_of_a_sparse_row_of_three_is_not_the_row(self):
        distal, _, _ = find([loop((300, 300)), loop((500, 300)), loop((700, 300)), loop((500, 150))])
        self.assertEqual([0, 1, 2], distal)

    def test_the_row_behind_is_not_distal(self):
        front = [loop((70 + 60 * i, 200 + (i * 37 % 13) - 6)) for i in range(15)]
        behind = [loop((130 + 120 * j, 300 + j % 2 * 5)) for j in range(5)]
        distal, length_mm, density = find(front + behind)
        self.assertEqual(list(range(15)), distal)
        self.assertTrue(2.048 <= length_mm <= 2.060)

    def test_a_row_line_that_misses_the_frame_is_no_measurement_not_a_density_of_0(self):
        # U above the top edge, its mask inside the frame (not cut by it): the row line y = -3 crosses no pixel.
        above = loop((512, -3), apical=8)
        distal, length_mm, density = find([above])
        self.assertEqual([0], distal)
        self.assertEqual(0.0, length_mm)
        self.assertIsNone(density)

    def test_a_row_line_shorter_than_the_minimum_gives_no_density(self):
        # One loop near the top-left corner, pointing there: its row line crosses the corner over 80√2 px = 0.226 mm.
        distal, length_mm, density = find([loop((40, 40), degrees=-45)])
        self.assertEqual([0], distal)
        self.assertAlmostEqual(80 * np.sqrt(2) * UM_PER_PX / 1000, length_mm, places=3)
        self.assertIsNone(density)
        distal, length_mm, density = find([loop((200, 200), degrees=-45)])   # 400√2 px = 1.13 mm
        self.assertAlmostEqual(1 / length_mm, density, places=9)

    def test_a_field_whose_every_loop_runs_out_of_the_frame_has_no_density(self):
        cut = loop((520, 30), apical=30)
        cut["mask"][:] = False
        cut["mask"][0:120, 505:535] = True   # the limbs run out of the top edge, beyond U
        distal, _, density = find([cut])
        self.assertEqual([], distal)
        self.assertIsNone(density)
        self.assertEqual(0.0, find([])[2])   # no loop at all: density 0

    def test_loops_running_out_of_the_frame_without_a_confident_u_leave_the_row(self):
        row = [loop((60 + 70 * i, 200)) for i in range(6)]
        for left in (505, 575):
            faint = loop((left + 15, 30), apical=30)
            faint["keypoints"][0, 2] = 0.05   # no confident U: the apex would be the mask's top, on the frame's edge
            faint["mask"][:] = False
            faint["mask"][0:120, left:left + 30] = True
            row.append(faint)
        distal, length_mm, density = find(row)
        self.assertEqual(list(range(6)), distal)
        self.assertAlmostEqual(6 / 2.048, density, places=6)

    def test_when_the_cut_loops_alone_showed_the_way_the_row_is_found_again_along_their_axis(self):
        # As FrameCutTests.cs: the nail at the bottom, the only confident loops run out of its edge; the loops left
        # show no direction, and the image's top would make the deeper row (5 loops) the distal one (8 loops).
        loops = []
        for x in (200, 300, 400):
            c = loop((x, HEIGHT - 15), degrees=180)
            c["mask"][:] = False
            c["mask"][HEIGHT - 100:HEIGHT, x - 15:x + 15] = True
            loops.append(c)
        for x, y in [(100 + 100 * i, 150) for i in range(5)] + [(40 + 75 * i, 300) for i in range(8)]:
            c = loop((x, y), degrees=180)
            c["keypoints"][:, 2] = 0.01
            loops.append(c)
        distal, _, _ = find(loops)
        self.assertEqual(list(range(8, 16)), distal)

    def test_a_vertical_row_of_loops_without_confident_keypoints_is_one_row(self):
        loops = []
        for i in range(8):
            c = loop((700, 104 + 80 * i), degrees=90)
            c["keypoints"][:, 2] = 0.05   # below every confidence gate
            c["mask"][:] = False
            c["mask"][89 + 80 * i:119 + 80 * i, 610:700] = True
            loops.append(c)
        distal, length_mm, density = find(loops)
        self.assertEqual(list(range(8)), distal)
        self.assertAlmostEqual(1.536, length_mm, places=3)

    def test_a_vertical_row_without_confident_keypoints_is_not_cut_by_the_frame_on_a_guessed_side(self):
        # DistalRowTests.A_vertical_row_without_confident_keypoints_is_not_cut_by_the_frame_on_a_guessed_side: the masks
        # reach the right edge, the side the guessed normal pointed to; every loop was cut and the image had no density.
        loops = []
        for i in range(8):
            c = loop((WIDTH - 90, 104 + 80 * i), degrees=90)
            c["keypoints"][:, 2] = 0.05
            c["mask"][:] = False
            c["mask"][89 + 80 * i:119 + 80 * i, WIDTH - 90:WIDTH] = True
            loops.append(c)
        distal, length_mm, density = find(loops)
        self.assertEqual(list(range(8)), distal)
        self.assertAlmostEqual(8 / 1.536, density, places=2)

    def test_a_loop_without_an_apex_to_place_is_no_density_of_0(self):
        blank = loop((520, 300))
        blank["keypoints"][:, 2] = 0.05   # no confident U
        blank["mask"][:] = False          # and nothing to place an apex on
        distal, _, density = find([blank])
        self.assertEqual([], distal)
        self.assertIsNone(density)        # as the C# finder: no measurement, not an avascular 0


if __name__ == "__main__":
    unittest.main()
