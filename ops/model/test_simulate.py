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

import numpy as np

SIMULATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "simulate.py")
sys.path.insert(0, os.path.dirname(SIMULATE))
import nfcsim_shapes as shapes  # noqa: E402
import simulate as sim  # noqa: E402
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
            ("--formats", "jpg:inf,png:1"): "--formats takes jpg/png/tif with optional finite weights",
            ("--formats", "jpg:1e400"): "--formats takes jpg/png/tif with optional finite weights",
            ("--formats", "jpg:nan"): "--formats takes jpg/png/tif with optional finite weights",
            ("--formats", "jpg:1e308,png:1e308"): "must add up to a finite number",
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

    def test_a_replace_removes_the_earlier_truth_before_the_study(self):
        # The truth means "this study is complete": a rewrite cut short must not leave the earlier one's truth.
        out = os.path.join(self.dir, "study")
        self.assertEqual(simulate("--out", out, *TINY).returncode, 0)
        truth = out + ".truth.json"
        with open(truth + ".partial", "w") as f:
            f.write("{")
        sim.prepare_out(out, truth, replace=True)
        self.assertFalse(os.path.exists(truth))
        self.assertFalse(os.path.exists(truth + ".partial"))
        self.assertEqual(os.listdir(out), [])

    def test_truth_inside_the_study_folder_is_refused(self):
        out = os.path.join(self.dir, "study")
        r = simulate("--out", out, *TINY, "--truth", os.path.join(out, "truth.json"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("inside the study folder", r.stderr)
        self.assertFalse(os.path.exists(out))

    def test_a_truth_path_that_cannot_be_written_is_refused_before_the_study_is(self):
        out = os.path.join(self.dir, "study")
        for truth, said in ((os.path.join(self.dir, "missing", "t.json"), "its folder does not exist"), (self.dir, "is a folder")):
            r = simulate("--out", out, *TINY, "--truth", truth)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(said, r.stderr)
            self.assertNotIn("Traceback", r.stderr)
            self.assertFalse(os.path.exists(out))


def image(ungradable, density, counts=None, giants=0, dilated=0, finger="L2"):
    """An images[] entry as main() writes it, with what patient_truth reads."""
    full = {c: 0 for c in sim.CLASSES}
    full.update(counts or {})
    return {"ungradable": ungradable, "density_per_mm": density, "morphology_counts": full, "giant_count": giants,
            "dilated_count": dilated, "finger": finger}


class TruthRuleTests(unittest.TestCase):
    """The per-patient truth follows docs/measurements.md: PatientAggregator's counts, FastTrackClassifier's rules."""

    def test_fast_track_pattern_follows_the_csharp_classifier(self):
        # (density, giants, abnormal, hemorrhages, loops) -> pattern, as FastTrackClassifier with default options.
        cases = [
            ((7.0, 0, 0, 5, 50), "non_scleroderma"),            # >= 7 holds at 7; hemorrhages do not matter
            ((6.99, 0, 0, 0, 50), "non_scleroderma"),           # rule 3: neither rule holds, non-specific
            ((5.0, 0, 3, 0, 50), "non_scleroderma"),            # rule 3: abnormal shapes without loss or giants
            ((None, 0, 0, 0, 0), "indeterminate"),              # no gradable density, no giants
            ((None, 0, 4, 0, 10), "indeterminate"),             # an unknown density never meets <= 3
            ((3.0, 0, 1, 0, 20), "scleroderma_late"),           # <= 3 with abnormal shapes, giant share 0
            ((2.0, 1, 5, 0, 20), "scleroderma_late"),           # giant share 0.05 < 0.10
            ((2.0, 2, 5, 0, 20), "scleroderma_active"),         # giant share 0.10: frequent giants, not late
            ((8.0, 1, 0, 0, 20), "scleroderma_early"),          # share 0.05, no hemorrhages, density kept
            ((8.0, 1, 0, 2, 20), "scleroderma_active"),         # hemorrhages per loop 0.10
            ((8.0, 1, 0, 1, 20), "scleroderma_early"),          # hemorrhages per loop 0.05
            ((6.0, 1, 0, 0, 20), "scleroderma_early"),          # density 6 is not < 6
            ((5.9, 1, 0, 0, 20), "scleroderma_active"),         # moderate loss
            ((8.0, 1, 2, 0, 20), "scleroderma_early"),          # giants decide, abnormal shapes do not stage
            ((None, 1, 0, 0, 0), "scleroderma"),                # giants decide; no shares, no density: unstaged
            ((1.0, 1, 0, 0, 0), "scleroderma_active"),          # no abnormal shapes: not late; loss < 6
        ]
        for args, pattern in cases:
            with self.subTest(args=args):
                got, rule = sim.fast_track_pattern(*args)
                self.assertEqual(got, pattern, rule)
                self.assertTrue(rule.startswith(pattern.split("_")[0].replace("non", "non-")))

    def test_the_giant_share_is_over_the_loops_whose_giant_flag_is_known(self):
        # As FastTrackInputs.GiantShare: 3 giants of 40 loops is 0.075 (late), but with 12 loops' apex unseen it is
        # 3 of 28, 0.107: active.
        self.assertEqual(sim.fast_track_pattern(2.0, 3, 5, 0, 40, 2, 2)[0], "scleroderma_late")
        self.assertEqual(sim.fast_track_pattern(2.0, 3, 5, 0, 40, 2, 2, 12)[0], "scleroderma_active")
        self.assertIn("giant share 0.107", sim.fast_track_pattern(2.0, 3, 5, 0, 40, 2, 2, 12)[1])
        imgs = [dict(image(False, 2.0, {"hairpin": 20, "bushy": 5}, giants=2, finger=f), giant_unknown_count=6) for f in ("L2", "R2")]
        p = sim.patient_truth("P9", "ssc-active", imgs)
        self.assertEqual((p["giant_count"], p["giant_unknown_count"], p["loop_count"]), (4, 12, 50))
        self.assertEqual(p["pattern"], "scleroderma_active")   # 4 / 38 = 0.105; over every loop, 4 / 50 = 0.08, late

    def test_no_giants_needs_measured_apices_of_the_loops_that_could_be_giant(self):
        # As FastTrackClassifier with MinGiantKnownShare 0.25 over GiantCandidateCount: 0 of 28 hairpins measured
        # beside 12 ramified loops is no evidence of no giants; one giant of one measured apex stages nothing.
        self.assertEqual(sim.fast_track_pattern(5.0, 0, 12, 0, 40, 4, 2, 28, 28)[0], "indeterminate")
        self.assertEqual(sim.fast_track_pattern(5.0, 0, 12, 0, 40, 4, 2, 21, 28)[0], "non_scleroderma")
        self.assertEqual(sim.fast_track_pattern(8.0, 0, 0, 0, 5, 4, 2, 5)[0], "indeterminate")
        self.assertEqual(sim.fast_track_pattern(8.0, 1, 0, 0, 40, 8, 4, 39, 40)[0], "scleroderma")
        self.assertEqual(sim.fast_track_pattern(8.0, 1, 0, 0, 40, 8, 4, 20, 40)[0], "scleroderma_early")
        # A wide apex over a narrow limb is not giant (GiantMinLimbDiameterUm 20).
        ann = dict(category_id=sim.CLASSES.index("hairpin") + 1, apical_diameter_um=55.0, arterial_diameter_um=12.0,
                   venous_diameter_um=40.0, keypoints=[0, 0, 2, 0, 0, 2] + [0] * 18)
        self.assertEqual(sim.image_summary([ann])[1:], (0, 1, 0))
        self.assertEqual(sim.image_summary([dict(ann, arterial_diameter_um=30.0)])[1:], (1, 0, 0))
        # No limb known: giant or dilated, not known which (as the C# flags).
        self.assertEqual(sim.image_summary([dict(ann, arterial_diameter_um=None, venous_diameter_um=None)])[1:], (0, 0, 1))

    def test_a_density_from_too_few_fields_or_fingers_decides_no_rule(self):
        # MinDensityFields 2 and MinDensityFingers 2, as FastTrackClassifier: the density is then not used.
        self.assertEqual(sim.fast_track_pattern(9.2, 0, 0, 0, 30, 1, 1)[0], "indeterminate")
        self.assertEqual(sim.fast_track_pattern(9.2, 0, 0, 0, 30, 3, 1)[0], "indeterminate")
        self.assertEqual(sim.fast_track_pattern(9.2, 0, 0, 0, 30, 2, 2)[0], "non_scleroderma")
        self.assertEqual(sim.fast_track_pattern(2.0, 0, 5, 0, 20, 1, 1)[0], "indeterminate")        # no loss rule
        self.assertEqual(sim.fast_track_pattern(2.0, 1, 5, 0, 20, 1, 1)[0], "scleroderma")          # giants; no stage
        self.assertEqual(sim.fast_track_pattern(2.0, 2, 5, 0, 20, 1, 1)[0], "scleroderma_active")   # giant share 0.10
        self.assertIn("not used", sim.fast_track_pattern(9.2, 0, 0, 0, 30, 1, 1)[1])
        one = sim.patient_truth("P9", "healthy", [image(False, 9.0, {"hairpin": 18}), image(True, 9.0, finger="R3")])
        self.assertEqual(one["pattern"], "indeterminate")
        two = sim.patient_truth("P9", "healthy", [image(False, 9.0, {"hairpin": 18}), image(False, 9.0, {"hairpin": 18}, finger="R3")])
        self.assertEqual(two["pattern"], "non_scleroderma")
        unnamed = sim.patient_truth("P9", "healthy", [image(False, 9.0, {"hairpin": 18}, finger=None),
                                                      image(False, 9.0, {"hairpin": 18}, finger=None)])
        self.assertEqual(unnamed["pattern"], "non_scleroderma")   # fingers not named: only the fields are checked

    def test_patient_truth_counts_gradable_fields_only(self):
        imgs = [image(False, 8.0, {"hairpin": 10, "ramified": 2, "hemorrhage": 1, "blur": 4}, giants=1, dilated=2),
                image(False, 6.0, {"tortuous": 8, "bushy": 1, "hemorrhage": 2}, giants=0, dilated=1),
                image(True, 1.0, {"hairpin": 30, "bizarre": 9, "hemorrhage": 7, "blur": 20}, giants=9, dilated=9)]
        p = sim.patient_truth("P001", "ssc-early", imgs)
        self.assertEqual((p["images"], p["ungradable_images"]), (3, 1))
        self.assertEqual(p["density_mean_per_mm"], 7.0)
        self.assertEqual(p["density_median_per_mm"], 7.0)
        self.assertEqual(p["density_sd_per_mm"], round(2 ** 0.5, 4))       # sample SD (n - 1) of 8 and 6
        self.assertEqual(p["morphology_counts"]["hairpin"], 10)
        self.assertEqual(p["morphology_counts"]["blur"], 4)
        self.assertEqual(p["loop_count"], 21)                                 # hairpin, tortuous, ramified, bushy
        self.assertEqual((p["giant_count"], p["dilated_count"], p["abnormal_count"], p["hemorrhage_count"]),
                         (1, 3, 3, 3))
        self.assertEqual(p["pattern"], "scleroderma_active")                 # 3 hemorrhages / 21 loops >= 0.10

        one = sim.patient_truth("P002", "healthy", imgs[:1] + imgs[2:])
        self.assertEqual(one["density_mean_per_mm"], 8.0)
        self.assertIsNone(one["density_sd_per_mm"])                          # one value: no SD

        none = sim.patient_truth("P003", "ssc-late", [image(True, 2.0, {"bushy": 5}, giants=0)])
        self.assertIsNone(none["density_mean_per_mm"])
        self.assertIsNone(none["density_median_per_mm"])
        self.assertIsNone(none["density_sd_per_mm"])
        self.assertEqual((none["abnormal_count"], none["loop_count"]), (0, 0))
        self.assertEqual(none["pattern"], "indeterminate")                   # never taken from the profile

    def test_only_loops_are_flagged_giant_or_dilated(self):
        def ann(name, apical, u_visible=2, d_visible=2):
            kps = [0] * 24 if apical is None else [1.0, 1.0, u_visible, 1.0, 2.0, d_visible] + [1.0, 3.0, 2] * 6
            limb = None if apical is None else 0.8 * apical   # the simulator's giants' limbs are 0.7-0.9 of their apex
            return {"category_id": sim.CLASSES.index(name) + 1, "apical_diameter_um": apical, "keypoints": kps,
                    "arterial_diameter_um": limb, "venous_diameter_um": limb}
        anns = [ann("hairpin", 55.0), ann("crossing", 50.0), ann("tortuous", 20.0), ann("hairpin", 19.9),
                ann("ramified", 60.0), ann("bushy", 30.0), ann("blur", 70.0), ann("blur", 30.0),
                ann("hemorrhage", None)]
        counts, giants, dilated, unknown = sim.image_summary(anns)
        self.assertEqual((giants, dilated, unknown), (2, 3, 0))     # giants: hairpin 55, crossing 50; dilated: 20, 60, 30
        self.assertEqual((counts["blur"], counts["hemorrhage"], counts["hairpin"]), (2, 1, 2))

        # An apex cut by the frame (U or D outside it) cannot be measured, in the truth as in the pipeline: no flag.
        cut = [ann("hairpin", 60.0, u_visible=1), ann("tortuous", 30.0, d_visible=1), ann("hairpin", 55.0)]
        counts, giants, dilated, unknown = sim.image_summary(cut)
        self.assertEqual((giants, dilated, counts["hairpin"], counts["tortuous"]), (1, 0, 2, 1))
        self.assertEqual(2, unknown)   # the cut hairpin and tortuous loop: neither giant nor not
        cut_abnormal = [ann("bushy", 60.0, u_visible=1)]
        self.assertEqual(0, sim.image_summary(cut_abnormal)[3])   # an abnormal shape is never giant: its flag is known

    def test_a_keypoint_drawn_over_by_another_instance_is_not_visible(self):
        id_map = np.zeros((40, 60), np.uint16)
        id_map[5:30, 10:20] = 1            # the loop
        id_map[8:12, 12:18] = 2            # a hemorrhage drawn over its apex
        kps = np.array([[15, 10], [15, 14], [10, 20], [12, 20], [17, 20], [19, 20], [11, 29], [18, 29]], float)
        loop = dict(id=1, category="hairpin", keypoints=kps, apex=np.array([15.0, 9.0]),
                    widths_um={"apical": 60.0, "left": 40.0, "right": 40.0}, distal=True, row=0)
        blob = dict(id=2, category="hemorrhage", keypoints=None, apex=np.array([15.0, 10.0]), widths_um=None, distal=False, row=0)
        ann = sim.annotate({"id_map": id_map, "instances": [loop, blob]}, 1, 1, 2.0)[0]
        self.assertEqual([1, 2, 2, 2, 2, 2, 2, 2], ann["keypoints"][2::3])   # U under the hemorrhage; D on the loop
        _, giants, dilated, _ = sim.image_summary([ann])
        self.assertEqual((giants, dilated), (0, 0))                          # a 60 µm apex that cannot be seen
        ann["keypoints"][2] = 2
        self.assertEqual(sim.image_summary([ann])[1], 1)                     # seen: a giant

    def test_a_keypoint_inside_its_loops_own_bud_is_not_visible(self):
        # A bush's bud grown out through U: the vessel goes on past it, so U is on no edge the image shows.
        main = (np.array([[20.0, 30.0 - i] for i in range(21)]), np.full(21, 8.0))
        bud = (np.array([[20.0, 10.0 - i] for i in range(12)]), np.full(12, 6.0))   # from the apex top, outwards
        kps = np.array([[20, 6], [20, 14], [16, 25], [18, 25], [22, 25], [24, 25], [17, 30], [23, 30]], float)
        loop = shapes.Loop([main, bud], kps, np.array([20.0, 10.0]), {"apical": 16.0, "left": 8.0, "right": 8.0})
        self.assertEqual([True] + [False] * 7, loop.keypoints_inside_branches().tolist())
        self.assertEqual([False] * 8, shapes.Loop([main], kps, loop.apex, loop.widths_um).keypoints_inside_branches().tolist())

        id_map = np.zeros((40, 40), np.uint16)
        id_map[0:31, 15:26] = 1
        inst = dict(id=1, category="bushy", keypoints=kps, apex=loop.apex, widths_um=loop.widths_um, distal=True, row=0,
                    inside_branches=loop.keypoints_inside_branches())
        ann = sim.annotate({"id_map": id_map, "instances": [inst]}, 1, 1, 2.0)[0]
        self.assertEqual([1, 2, 2, 2, 2, 2, 2, 2], ann["keypoints"][2::3])

    def test_a_cached_truth_counts_as_current_only_from_this_simulator_version(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "s.truth.json")
            self.assertFalse(sim.truth_is_current(path))                             # missing
            for version, current in (("0.1.0", False), (sim.SIM_VERSION, True)):
                with open(path, "w") as f:
                    json.dump({"info": {"version": version}}, f)
                self.assertEqual(current, sim.truth_is_current(path))
            with open(path, "w") as f:
                f.write("{not json")
            self.assertFalse(sim.truth_is_current(path))

    def test_a_bizarre_loops_truth_is_its_drawn_width(self):
        for seed in range(20):
            loop = shapes.make_loop(np.random.default_rng(seed), "bizarre", 16.0, 10.0, 12.0, 250.0, 20.0, 2.0)
            pts, widths = loop.tubes[0]
            top = int(np.argmax(pts[:, 1]))
            u, d = loop.keypoints[0], loop.keypoints[1]
            self.assertAlmostEqual(np.linalg.norm(u - d), widths[top], places=6)          # U-D spans the drawn apex
            self.assertAlmostEqual(loop.widths_um["apical"], widths[top] * 2.0, places=6)
            for edge_a, edge_b, limb in ((2, 3, "left"), (4, 5, "right")):            # LL-LR, RL-RR
                span = np.linalg.norm(loop.keypoints[edge_a] - loop.keypoints[edge_b])
                self.assertAlmostEqual(loop.widths_um[limb], span * 2.0, places=6)

    def test_every_loop_keeps_a_lumen_inside_its_apex(self):
        # A tight turn closed the apex's lumen (nfc-sim 0.2.x): D, half the apical width below the apex, lay inside the
        # vessel, up to 30 % of giants had under 1.5 um of lumen. A hairpin's straight limbs give its arc's radius.
        import nfcsim_render as render
        for um_per_px in (1.5, 2.9):
            lumen = max(render.APEX_LUMEN_MIN_UM, render.APEX_LUMEN_MIN_PX * um_per_px) / um_per_px
            seen = 0
            for name, prm in render.PROFILES.items():
                for seed in range(150):
                    made = render._make_loop_for(np.random.default_rng(seed), prm, um_per_px, 250.0)
                    if made["shape"] != "hairpin":
                        continue
                    kp = made["loop"].keypoints
                    radius = (kp[7][0] - kp[6][0]) / 2            # the limbs' centrelines at the bottom, straight up
                    apical = kp[0][1] - kp[1][1]                  # U above D
                    with self.subTest(profile=name, seed=seed, um_per_px=um_per_px):
                        self.assertGreaterEqual(radius - apical / 2, lumen - 1e-6)
                    seen += 1
            self.assertGreater(seen, 100)


if __name__ == "__main__":
    unittest.main()
