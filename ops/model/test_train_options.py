#!/usr/bin/python3
"""Tests of train.py's option checks: a bad value stops it with a usage message before the cache is built or a
checkpoint read. Run by ops/test.sh."""
import contextlib
import io
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train  # noqa: E402


def parse(*args):
    """(exit code or None, stderr) of train.parse_args on `args`."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            train.parse_args(["--out", "/nonexistent/run", *args])
        except SystemExit as e:
            return e.code, err.getvalue()
    return None, err.getvalue()


class TrainOptionTests(unittest.TestCase):
    def test_defaults_are_accepted(self):
        self.assertEqual(parse(), (None, ""))
        self.assertEqual(parse("--steps", "1", "--max-minutes", "0", "--ema", "0", "--crop", "32"), (None, ""))

    def test_the_default_run_folder_is_the_repositorys_wherever_it_is_run_from(self):
        import tempfile
        import repo_paths
        here = os.getcwd()
        with tempfile.TemporaryDirectory() as elsewhere:
            os.chdir(elsewhere)
            try:
                out = train.parse_args([]).out
            finally:
                os.chdir(here)
        self.assertEqual(repo_paths.local("model-train"), out)
        self.assertTrue(os.path.isabs(out))
        self.assertFalse(out.startswith(elsewhere))

    def test_bad_values_stop_with_a_message(self):
        cases = {
            ("--seed", "-3"): "--seed must be 0 or more",
            ("--cache-fields", "0"): "--cache-fields must be at least 1",
            ("--steps", "-5"): "--steps must be at least 1",
            ("--batch", "0"): "--batch must be at least 1",
            ("--crop", "100"): "--crop must be a multiple of 32",
            ("--lr", "0"): "--lr must be between 0 and 1",
            ("--threads", "0"): "--threads must be at least 1",
            ("--checkpoint-minutes", "0"): "--checkpoint-minutes must be above 0",
            ("--max-minutes", "-1"): "--max-minutes must be 0 (no limit) or more",
            ("--full-res-channels", "-1"): "--full-res-channels must be 0 or more",
            ("--kp-offset-window", "-1"): "--kp-offset-window must be 0 or more",
            ("--min-keypoint-weight", "-0.5"): "--min-keypoint-weight must be 0 or more",
            ("--ema", "1"): "--ema must be in [0, 1)",
            ("--steps", "many"): "invalid int value",
        }
        for (option, value), message in cases.items():
            with self.subTest(option=option, value=value):
                code, err = parse(option, value)
                self.assertEqual(code, 2)
                self.assertIn(message, err)
        self.assertFalse(os.path.exists("/nonexistent/run"))

    def test_bad_widths_stop_with_a_message(self):
        for value in ("1,2", "24,32,48,64,0", "a,b,c,d,e"):
            with self.subTest(value=value):
                code, _ = parse("--widths", value)
                self.assertIn("--widths needs 5 positive channel counts", str(code))


class ResumeTests(unittest.TestCase):
    def test_a_resume_with_other_data_settings_is_refused_by_name(self):
        a = train.parse_args(["--out", "/nonexistent/run", "--seed", "7", "--batch", "8"])
        current = vars(a) | {"sim_version": train.SIM_VERSION}
        self.assertEqual(["--seed is 7 but the checkpoint was trained with 5"], train.resume_conflicts(current | {"seed": 5}, a))
        self.assertEqual([], train.resume_conflicts(current, a))
        # An older checkpoint without the settings: not checked, but it was trained on the first simulator version.
        self.assertEqual([f"the simulator is nfc-sim {train.SIM_VERSION} but the checkpoint was trained on nfc-sim 0.1.0"],
                         train.resume_conflicts({"steps": 8000}, a))
        self.assertEqual(1, len(train.resume_conflicts(current | {"sim_version": "0.0.9"}, a)))
        # 0.3.1 changed patient truth only: a checkpoint trained on 0.3.0 goes on.
        self.assertEqual([], train.resume_conflicts(current | {"sim_version": "0.3.0"}, a))
        # Another length: the checkpoint's schedule would be kept and the new --steps silently ignored.
        self.assertEqual([f"--steps is {a.steps} but the checkpoint's run was planned for 12000 steps"],
                         train.resume_conflicts(current | {"planned_steps": 12000}, a))

    def test_a_resume_names_the_shape_settings_it_does_not_use(self):
        # --widths and the loss settings come from the checkpoint; other values given were ignored without a word.
        a = train.parse_args(["--out", "/nonexistent/run", "--widths", "16,32,48,64,96", "--min-keypoint-weight", "0.5"])
        state = {"config": {"widths": [24, 48, 96, 128, 192], "full_res_channels": 0, "min_keypoint_weight": 0.5}}
        notes = train.keep_trained_shape(state, a)
        self.assertEqual(1, len(notes))
        self.assertIn("--widths [16, 32, 48, 64, 96] is not used: kept at [24, 48, 96, 128, 192]", notes[0])
        self.assertEqual(([24, 48, 96, 128, 192], 0.5, "focal"), (a.widths, a.min_keypoint_weight, a.kp_heatmap_loss))
        self.assertEqual([], train.keep_trained_shape(state, a))
        # Left at their defaults, nothing was given: nothing to say.
        self.assertEqual([], train.keep_trained_shape(state, train.parse_args(["--out", "/nonexistent/run"])))


    def test_a_run_the_time_guard_stopped_trains_nothing_more_when_run_again(self):
        import tempfile
        import torch
        with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(io.StringIO()):
            tiny = ["--out", out, "--cache-fields", "1", "--steps", "50", "--batch", "1", "--crop", "64", "--precision", "fp32",
                    "--max-minutes", "0.00001", "--no-fit-to-time", "--resume"]
            train.main(tiny)
            first = torch.load(os.path.join(out, "final.pt"), map_location="cpu")
            train.main(tiny)
            again = torch.load(os.path.join(out, "final.pt"), map_location="cpu")
        self.assertTrue(first["stopped_early"])
        self.assertLess(first["step"], 50)
        self.assertEqual((first["step"], True), (again["step"], again["stopped_early"]))
        for k, v in first["model"].items():
            self.assertTrue(torch.equal(v, again["model"][k]), k)



    def test_a_fresh_run_moves_an_earlier_runs_final_weights_checkpoint_and_metrics_aside(self):
        # The checkpoint too: killed before its own first one, the next train.sh (--resume) took up the earlier run.
        import tempfile
        with tempfile.TemporaryDirectory() as out:
            # And hand-made metrics of the earlier weights, which write_card.py would put on this run's card.
            for name in ("final.pt", "checkpoint.pt", "metrics-seed785.json"):
                with open(os.path.join(out, name), "w") as f:
                    f.write("earlier")
            said = []
            train.set_aside_earlier_final(out, said.append)
            self.assertEqual(["checkpoint.pt.earlier", "final.pt.earlier", "metrics-seed785.json.earlier"], sorted(os.listdir(out)))
            self.assertEqual(3, len(said))
            train.set_aside_earlier_final(out, said.append)   # nothing to move: nothing said
            self.assertEqual(3, len(said))


class FineTuneTests(unittest.TestCase):
    SHIPPED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models", "nfc-reference.pt")

    def test_a_missing_starting_point_stops_with_a_message(self):
        code, err = parse("--init-from", "/nonexistent/final.pt")
        self.assertEqual(2, code)
        self.assertIn("--init-from: no such file: /nonexistent/final.pt", err)

    def test_a_fine_tuning_run_starts_from_the_given_weights_and_says_so(self):
        import tempfile
        import torch
        with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(io.StringIO()):
            # One step at a negligible learning rate: the weights must still be the starting point's.
            tiny = ["--out", out, "--cache-fields", "1", "--steps", "1", "--batch", "1", "--crop", "64", "--lr", "1e-9"]
            train.main([*tiny, "--precision", "fp32", "--init-from", self.SHIPPED])
            init = torch.load(self.SHIPPED, map_location="cpu")
            final = torch.load(os.path.join(out, "final.pt"), map_location="cpu")
            with open(os.path.join(out, "config.json")) as f:
                config = json.load(f)
            # And a resume must name the same starting point.
            refused = train.resume_conflicts(config, train.parse_args(tiny))
        # Batch-norm statistics move in one training step; the learned weights must not.
        learned = [k for k, v in init["model"].items() if v.dtype.is_floating_point and "running_" not in k]
        self.assertGreater(len(learned), 50)
        drift = max(float((final["model_raw"][k] - init["model"][k]).abs().max()) for k in learned)
        self.assertLess(drift, 1e-6)
        for started, ended in zip(init["log_vars"], final["log_vars"]):   # the task weights it ended with
            self.assertAlmostEqual(started, ended, places=5)
        self.assertEqual({"path": self.SHIPPED, "sha256": train.file_sha256(self.SHIPPED), "steps": init["step"],
                          "sim_version": "0.1.0", "precision": "fp32"}, config["init"])
        self.assertEqual([f"--init-from is None but the checkpoint was trained with {self.SHIPPED!r}"], refused)


    def test_a_checkpoint_starts_from_its_average_and_task_weights_and_keeps_its_unfinished_schedule(self):
        # A checkpoint holds the raw weights as "model" and its task weights in its loss state: fine-tuning from one
        # loaded the raw weights, not the exported average, and restarted the task weights at 0; finish.sh kept no
        # task weights and no "stopped early", so a recarded model's card lost its unfinished-schedule note.
        import torch
        raw, average = {"w": torch.zeros(2)}, {"w": torch.ones(2)}
        checkpoint = {"model": raw, "ema": average, "loss": {"log_vars": torch.tensor([0.5, -0.25])}, "optimizer": {},
                      "step": 7, "config": {"steps": 100}}
        weights, log_vars = train.starting_weights(checkpoint)
        self.assertIs(average, weights)
        self.assertEqual([0.5, -0.25], log_vars.tolist())
        kept = train.kept_weights(checkpoint)
        self.assertEqual({"model", "step", "config", "stopped_early", "log_vars"}, set(kept))
        self.assertIs(average, kept["model"])
        self.assertEqual((True, [0.5, -0.25], 7), (kept["stopped_early"], kept["log_vars"], kept["step"]))
        # A final.pt (and what finish.sh kept of it) is already the average, with its own task weights and flag.
        final = {"model": average, "model_raw": raw, "log_vars": [1.0], "stopped_early": False, "step": 100, "config": {}}
        self.assertIs(average, train.starting_weights(final)[0])
        self.assertEqual((False, [1.0]), (train.kept_weights(final)["stopped_early"], train.kept_weights(final)["log_vars"]))
        self.assertEqual(train.kept_weights(final), train.kept_weights(train.kept_weights(final)))
        # A checkpoint taken at the schedule's last step finished it.
        self.assertFalse(train.kept_weights(checkpoint | {"step": 100})["stopped_early"])

    def test_a_checkpoint_is_on_disk_before_it_replaces_the_last_one(self):
        import tempfile
        from unittest import mock
        calls = []
        real_fsync, real_replace = os.fsync, os.replace
        with tempfile.TemporaryDirectory() as out, \
                mock.patch.object(train.os, "fsync", side_effect=lambda fd: calls.append("fsync") or real_fsync(fd)), \
                mock.patch.object(train.os, "replace", side_effect=lambda a, b: calls.append("replace") or real_replace(a, b)):
            path = os.path.join(out, "checkpoint.pt")
            train.save(path, step=3)
            self.assertEqual(["checkpoint.pt"], os.listdir(out))
        self.assertEqual(["fsync", "replace", "fsync"], calls)   # the file, the rename, the folder

    def test_fine_tuning_from_weights_inside_the_run_folder_is_refused(self):
        import tempfile
        with tempfile.TemporaryDirectory() as out:
            own = os.path.join(out, "final.pt")
            with open(own, "w") as f:
                f.write("weights")
            err = io.StringIO()
            with contextlib.redirect_stderr(err), self.assertRaises(SystemExit) as stopped:
                train.parse_args(["--out", out, "--init-from", own])
        self.assertEqual(2, stopped.exception.code)
        self.assertIn("lies in --out", err.getvalue())
        self.assertIn("copy it elsewhere first", err.getvalue())

if __name__ == "__main__":
    unittest.main()
