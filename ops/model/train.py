#!/usr/bin/python3
"""Trains NfcNet on simulated fields, on the CPU.

    train.py --out .local/model-train --seed 20261122 --steps 8000 [--resume] [--batch 8] [--crop 256]

Reproducible: the batch at step k depends only on (seed, k), so a resumed run sees the same data as an
uninterrupted one. A checkpoint (model, optimiser, step) is written every --checkpoint-minutes and at the end.
With --max-minutes, the one-cycle schedule is fitted (every 100 steps, at most --steps) to the steps that fit at
the measured rate (config.json: steps against planned_steps), so a slower host still anneals the learning rate
instead of being cut off mid-schedule. Such a run is not bit for bit reproducible: before the last refit its learning
rate followed a longer schedule, and the refits fall on steps counted from each session's start. Rerun with --steps
set to the fitted number and no --max-minutes for a run that is reproducible from its seed (it anneals alike, not
identically).
"""
import argparse
import hashlib
import json
import os
import re
import sys
import time
import warnings

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_checks import existing_file  # noqa: E402
from nfc_data import build_cache, instance_sampling_weights, make_batch  # noqa: E402
from nfcnet import STRIDE, WIDTHS, MultiTaskLoss, NfcNet, net_for, trained_widths  # noqa: E402
from nfcsim_shapes import CLASSES  # noqa: E402
from simulate import SIM_VERSION, trained_sim_version, training_data_version  # noqa: E402
import repo_paths  # noqa: E402


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=repo_paths.local("model-train"))
    ap.add_argument("--seed", type=int, default=20261122)
    ap.add_argument("--cache-fields", type=int, default=320, help="simulated fields in the training cache")
    ap.add_argument("--steps", type=int, default=8000)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--checkpoint-minutes", type=float, default=3.0)
    ap.add_argument("--max-minutes", type=float, default=0, help="stop early (and say so) after this wall time")
    ap.add_argument("--fit-to-time", action=argparse.BooleanOptionalAction, default=True,
                    help="with --max-minutes: every 100 steps, fit the schedule (at most --steps) to the steps that fit at "
                         "the measured rate, so the learning rate still anneals to its end")
    ap.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                    help="forward pass in bfloat16 autocast (weights, optimiser and losses stay float32); auto: bf16 "
                         "where the CPU has native bf16 (avx512_bf16 or amx_bf16), where it is about 1.7x faster")
    ap.add_argument("--full-res-channels", type=int, default=0,
                    help="channels of two convolutions at the input's resolution in front of the stride-2 stem (0: none)")
    ap.add_argument("--widths", default=",".join(map(str, WIDTHS)),
                    help="channels at strides 2, 4, 8, 16 and 32, comma-separated")
    ap.add_argument("--kp-offset-window", type=int, default=1,
                    help="keypoint offsets are trained in the (2N+1)^2 cells around each keypoint's cell")
    ap.add_argument("--min-keypoint-weight", type=float, default=0,
                    help="floor of the keypoint heatmaps' Kendall weight exp(-s) (0: none; the learned weight ends near "
                         "0.42, the lowest of the tasks)")
    ap.add_argument("--kp-heatmap-loss", choices=["focal", "bce"], default="focal",
                    help="keypoint heatmaps: CenterNet's focal loss (positives only where the Gaussian reaches 0.99) "
                         "or binary cross-entropy against the Gaussian itself, divided by the cells of at least 0.5")
    ap.add_argument("--ema", type=float, default=0.998, help="decay of the weight average that gets exported")
    ap.add_argument("--init-from", type=existing_file, metavar="FINAL_PT",
                    help="fine-tune: start from these weights (a run's final.pt or models/nfc-reference.pt, its shape "
                         "and loss weights too) with a fresh optimiser and schedule, instead of random weights")
    ap.add_argument("--resume", action="store_true")
    a = ap.parse_args(argv)
    a.widths = parse_widths(a.widths)   # checked before the cache is built
    problem = option_problem(a)
    if problem:
        ap.error(problem)
    return a


def option_problem(a):
    """What is wrong with the numeric options, if anything: found before the cache is built or a checkpoint read."""
    checks = [
        (a.seed >= 0, f"--seed must be 0 or more, got {a.seed}"),
        (a.cache_fields >= 1, f"--cache-fields must be at least 1, got {a.cache_fields}"),
        (a.steps >= 1, f"--steps must be at least 1, got {a.steps}"),
        (a.batch >= 1, f"--batch must be at least 1, got {a.batch}"),
        (a.crop >= 32 and a.crop % 32 == 0, f"--crop must be a multiple of 32 (the encoder's stride), got {a.crop}"),
        (0 < a.lr < 1, f"--lr must be between 0 and 1, got {a.lr:g}"),
        (a.threads >= 1, f"--threads must be at least 1, got {a.threads}"),
        (a.checkpoint_minutes > 0, f"--checkpoint-minutes must be above 0, got {a.checkpoint_minutes:g}"),
        (a.max_minutes >= 0, f"--max-minutes must be 0 (no limit) or more, got {a.max_minutes:g}"),
        (a.full_res_channels >= 0, f"--full-res-channels must be 0 or more, got {a.full_res_channels}"),
        (a.kp_offset_window >= 0, f"--kp-offset-window must be 0 or more, got {a.kp_offset_window}"),
        (a.min_keypoint_weight >= 0, f"--min-keypoint-weight must be 0 or more, got {a.min_keypoint_weight:g}"),
        (0 <= a.ema < 1, f"--ema must be in [0, 1), got {a.ema:g}"),
        # This run writes its own final.pt there (and moves an earlier one aside): its starting point would be gone for
        # a resume, and its record would name this run's output.
        (not a.init_from or os.path.commonpath([os.path.realpath(a.out), os.path.realpath(a.init_from)]) != os.path.realpath(a.out),
         f"--init-from {a.init_from} lies in --out {a.out}, where this run writes its own weights; copy it elsewhere first"),
    ]
    return next((message for ok, message in checks if not ok), None)


def parse_widths(text):
    try:
        widths = [int(w) for w in str(text).split(",")]
    except ValueError:
        widths = []
    if len(widths) != len(WIDTHS) or min(widths) < 1:
        sys.exit(f"--widths needs {len(WIDTHS)} positive channel counts, got {text}")
    return widths


def write_config(out, config):
    # Renamed into place: a kill during a refit's rewrite must not leave a truncated config.json for finish.sh.
    path = os.path.join(out, "config.json")
    with open(path + ".tmp", "w") as f:
        json.dump(config, f, indent=2)
    os.replace(path + ".tmp", path)


def log(msg):
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def class_weights(fields, power=0.25):
    """Inverse frequency of each class over instance pixels, to a mild power: crops are already centred on
    rare shapes more often (instance_sampling_weights), so the loss only corrects the rest of the imbalance."""
    counts = np.ones(len(CLASSES))
    for f in fields:
        px = np.bincount(f["ids"][::4, ::4].ravel(), minlength=len(f["cls"]))
        np.add.at(counts, f["cls"][1:], px[1:])
    w = counts ** -power
    return torch.tensor(w / w.mean(), dtype=torch.float32)


def ema_update(ema, net, decay):
    """Exponential moving average of weights and BN statistics; robust to where the schedule stops."""
    with torch.no_grad():
        for k, v in net.state_dict().items():
            if v.dtype.is_floating_point:
                ema[k].mul_(decay).add_(v, alpha=1 - decay)
            else:
                ema[k].copy_(v)


def cpu_has_native_bf16():
    try:
        with open("/proc/cpuinfo") as f:
            return re.search(r"\b(avx512_bf16|amx_bf16)\b", f.read()) is not None
    except OSError:
        return False


def resolve_precision(choice):
    """Without native bf16 the autocast kernels are emulated and slower than float32, hence auto."""
    return choice if choice != "auto" else ("bf16" if cpu_has_native_bf16() else "fp32")


FIT_PROBE_STEPS = 100   # the schedule is fitted to --max-minutes every this many steps, from the first timed ones


def one_cycle(opt, lr, total):
    return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total, pct_start=0.05)


def steps_that_fit(step, elapsed, rate, max_minutes, planned):
    """The schedule length that ends within max_minutes at `rate` seconds per step, with 5 % kept for checkpoints and
    noise; never longer than planned."""
    return max(step + 1, min(planned, step + int((max_minutes * 60 * 0.95 - elapsed) / rate)))


# Settings that decide what a run trains on and how: a resumed run must keep them, or it would carry on the old weights
# on other batches (and its card would name settings the weights never saw).
RESUME_MUST_MATCH = ("seed", "batch", "crop", "kp_offset_window", "cache_fields", "ema", "lr", "init_from")


def resume_conflicts(saved, a):
    """Messages for each setting in RESUME_MUST_MATCH that differs from the checkpoint's (absent in older ones: skipped),
    and for a simulator version whose training data differs from the checkpoint's (its targets, such as a loop's truth
    widths, differ; a truth-only version shares its predecessor's: simulate.training_data_version)."""
    problems = [f"--{k.replace('_', '-')} is {getattr(a, k)!r} but the checkpoint was trained with {saved[k]!r}"
                for k in RESUME_MUST_MATCH if k in saved and saved[k] != getattr(a, k)]
    # A resume keeps the checkpoint's schedule: another --steps (NFC_TRAIN_STEPS) would be ignored, and the old weights
    # exported as if trained to the new length.
    if "planned_steps" in saved and saved["planned_steps"] != a.steps:
        problems.append(f"--steps is {a.steps} but the checkpoint's run was planned for {saved['planned_steps']} steps")
    if training_data_version(trained_sim_version(saved)) != training_data_version():
        problems.append(f"the simulator is nfc-sim {SIM_VERSION} but the checkpoint was trained on nfc-sim "
                        f"{trained_sim_version(saved)}")
    return problems


def keep_trained_shape(state, a):
    """Sets `a`'s shape and loss settings to those `state` (a checkpoint resumed or a model fine-tuned) was trained with;
    returns a message for each that was given otherwise, which a run would otherwise have ignored without a word (a
    setting left at its default is not one given)."""
    cfg = state.get("config", {})
    defaults = vars(parse_args(["--out", a.out]))
    kept = {"widths": list(trained_widths(state)), "full_res_channels": cfg.get("full_res_channels", 0),
            "min_keypoint_weight": cfg.get("min_keypoint_weight", 0), "kp_heatmap_loss": cfg.get("kp_heatmap_loss", "focal")}
    notes = [f"--{k.replace('_', '-')} {getattr(a, k)!r} is not used: kept at {v!r}, as the starting weights were trained"
             for k, v in kept.items() if getattr(a, k) != v and getattr(a, k) != defaults[k]]
    for k, v in kept.items():
        setattr(a, k, v)
    return notes


def file_sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def starting_point(path):
    """What a fine-tuning run starts from, for its config and card: the file, its digest, and how it was trained."""
    init = torch.load(path, map_location="cpu")
    cfg = init.get("config", {})
    return init, {"path": path, "sha256": file_sha256(path), "steps": init.get("step"),
                  "sim_version": trained_sim_version(cfg), "precision": cfg.get("precision_used", "fp32")}


def save(path, **state):
    """Whole or not at all, and on disk before the rename: after a power cut the previous checkpoint is gone, and on some
    file systems the renamed one could be empty without the fsync."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    folder = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def starting_weights(init):
    """The weights and task weights (or None) a fine-tuning run starts from. A run's final.pt and a shipped .pt hold the
    weight average as "model" and the task weights as "log_vars"; a checkpoint, or one copied as final.pt, holds the raw
    weights as "model", the average as "ema" and the task weights in its loss state. The average is what was exported
    and evaluated, so it is the starting point either way."""
    weights = init.get("ema") or init["model"]
    log_vars = init.get("log_vars")
    if log_vars is None and isinstance(init.get("loss"), dict):
        log_vars = init["loss"].get("log_vars")
    return weights, None if log_vars is None else torch.as_tensor(log_vars, dtype=torch.float32)


def stopped_early(st):
    """Whether a final.pt or a checkpoint copied as one ended before its schedule's last step (the card says so)."""
    return st.get("stopped_early", st.get("step", 0) < st.get("config", {}).get("steps", float("inf")))


def kept_weights(st):
    """What finish.sh keeps beside the model (models/NAME.pt) from a final.pt or a checkpoint copied as one: the
    exported weights, their task weights, and whether the schedule was cut short (a checkpoint's was), for the card."""
    weights, log_vars = starting_weights(st)
    kept = {k: st[k] for k in ("step", "config") if k in st}
    kept["model"] = weights
    kept["stopped_early"] = stopped_early(st)
    if log_vars is not None:
        kept["log_vars"] = log_vars.tolist()
    return kept


def set_aside_earlier_final(out, log):
    """A run started afresh in a folder that holds an earlier run's final.pt moves it aside (final.pt.earlier): killed
    before its own, the folder would look finished, and finish.sh export the earlier weights under this run's config.
    So does its checkpoint.pt: killed before its first checkpoint, the next train.sh (--resume) took up the earlier run.
    And its metrics-*.json: write_card.py would show the earlier weights' figures on this run's card."""
    names = ["final.pt", "checkpoint.pt"] + sorted(f for f in os.listdir(out) if f.startswith("metrics-") and f.endswith(".json"))
    for name in names:
        path = os.path.join(out, name)
        if os.path.exists(path):
            os.replace(path, path + ".earlier")
            log(f"an earlier run's {path} moved aside to {name}.earlier: this run writes its own")


def main(argv=None):
    a = parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    ckpt_path = os.path.join(a.out, "checkpoint.pt")
    # The checkpoint pickles the optimizer's and scheduler's state, not only tensors: torch 2.6 and later load only
    # weights unless told (Debian's 1.13 takes the argument and loads it all either way).
    st = torch.load(ckpt_path, weights_only=False) if a.resume and os.path.exists(ckpt_path) else None
    if st is not None and (conflicts := resume_conflicts(st["config"], a)):
        sys.exit(f"train.py: cannot resume {ckpt_path}: " + "; ".join(conflicts) +
                 ". Resume with the same settings, or train into another --out.")
    t0 = time.time()
    # The cache is named by the simulator's version too: a new version's images or instances (training targets) need a
    # new cache; one that changed only patient truth does not.
    cache = os.path.join(a.out, f"cache-{training_data_version()}-{a.seed}-{a.cache_fields}.npz")
    fields = build_cache(cache, a.seed, a.cache_fields, log)
    log(f"cache ready: {len(fields)} fields in {time.time() - t0:.0f}s")

    # A resumed or fine-tuned run keeps the shape it was trained in, whatever --widths and --full-res-channels say now.
    init, init_info = starting_point(a.init_from) if st is None and a.init_from else (None, None)
    shaped_by = st if st is not None else init
    net = NfcNet(len(CLASSES), tuple(a.widths), a.full_res_channels) if shaped_by is None else net_for(shaped_by, len(CLASSES))
    if shaped_by is not None:   # a resumed or fine-tuned run keeps its shape and its loss
        for note in keep_trained_shape(shaped_by, a):
            log(note)
    crit = MultiTaskLoss(class_weights(fields), {"keypoints": a.min_keypoint_weight}, a.kp_heatmap_loss)
    sampling = instance_sampling_weights(fields)
    opt = torch.optim.AdamW(list(net.parameters()) + list(crit.parameters()), lr=a.lr, weight_decay=1e-4)
    ema = {k: v.detach().clone() for k, v in net.state_dict().items()}
    step, total = 0, a.steps
    precision = resolve_precision(a.precision) if st is None else st["config"].get("precision_used", "fp32")
    if st is not None:   # a schedule fitted to the time limit keeps its length, and the run its precision, on resume
        total = st["config"]["steps"]   # (runs before --precision were float32)
    sched = one_cycle(opt, a.lr, total)
    if init is not None:
        weights, log_vars = starting_weights(init)
        net.load_state_dict(weights)
        if log_vars is not None:   # the task weights it ended with, not a fresh balance
            with torch.no_grad():
                crit.log_vars.copy_(log_vars)
        ema = {k: v.detach().clone() for k, v in net.state_dict().items()}
        log(f"fine-tuning from {a.init_from} ({init_info['steps']} steps on nfc-sim {init_info['sim_version']})")
    if st is not None:
        net.load_state_dict(st["model"])
        crit.load_state_dict(st["loss"])
        opt.load_state_dict(st["optimizer"])
        sched.load_state_dict(st["scheduler"])
        step = st["step"]
        # A checkpoint without an average (older runs) starts it from the loaded weights, not the random initial ones.
        ema = st.get("ema") or {k: v.detach().clone() for k, v in net.state_dict().items()}
        log(f"resumed from step {step}")
    config = vars(a) | {"stride": STRIDE, "classes": CLASSES, "steps": total, "planned_steps": a.steps,
                        "precision_used": precision, "sim_version": SIM_VERSION}
    if init_info is not None or st is not None and "init" in st["config"]:
        config["init"] = init_info or st["config"]["init"]
    bf16 = precision == "bf16"
    log(f"precision: {precision}" + (" (autocast forward, float32 weights and losses)" if bf16 else ""))
    if st is None:   # before this run's config replaces the earlier run's
        set_aside_earlier_final(a.out, log)
    write_config(a.out, config)

    net.train()
    # The time budget counts the training time of earlier sessions of this run too, so a resumed run fits its
    # schedule to what is left of --max-minutes, as an uninterrupted one would.
    trained_before = st.get("train_seconds", 0.0) if st is not None else 0.0
    last_ckpt, start, start_step = time.time(), time.time(), step
    probe = start
    running = {}
    stopped_early = False
    # A run the time guard stopped, run again: its budget is spent, so it trains nothing more (one step more was a new
    # final.pt, and a new model, at every rerun) and writes final.pt again from its checkpoint.
    if a.max_minutes and step < total and trained_before / 60 > a.max_minutes:
        stopped_early = True
        log(f"the run's --max-minutes {a.max_minutes} was spent by its earlier sessions (stopped at step {step}); nothing more is trained")
    while step < total and not stopped_early:
        rng = np.random.default_rng([a.seed, step, 0x42])
        b = make_batch(fields, rng, a.batch, a.crop, STRIDE, sampling, a.kp_offset_window)
        x = torch.from_numpy(b["image"]).float().div_(255).sub_(0.5).div_(0.25)
        t = {k: torch.from_numpy(v) for k, v in b.items() if k != "image"}
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = net(x)
        if bf16:
            out = {k: v.float() for k, v in out.items()}
        loss, parts = crit(out, t)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        sched.step()
        step += 1
        ema_update(ema, net, min(a.ema, (1 + step) / (10 + step)))
        for k, v in parts.items():
            running[k] = running.get(k, v) * 0.95 + v * 0.05
        if step % 25 == 0 or step == total:
            rate = (time.time() - start) / max(step - start_step, 1)
            log(f"step {step}/{total} loss {float(loss):.3f} " +
                " ".join(f"{k}={v:.3f}" for k, v in running.items()) +
                f" | lr {opt.param_groups[0]['lr']:.2e}, {rate:.2f}s/step, eta {(total - step) * rate / 60:.1f} min")
        done = step - start_step
        if a.fit_to_time and a.max_minutes and done % FIT_PROBE_STEPS == 0:
            # The slower of the run's mean and its last stretch: step times drift up over a run.
            now = time.time()
            rate = max((now - start) / done, (now - probe) / FIT_PROBE_STEPS)
            probe = now
            fits = steps_that_fit(step, trained_before + now - start, rate, a.max_minutes, a.steps)
            # Shorter whenever it must; longer again (up to the plan) when the first steps' slowness has passed.
            if fits < total or fits > total * 1.01:
                log(f"at {rate:.2f}s/step, {fits} of the {a.steps} planned steps fit --max-minutes {a.max_minutes}: "
                    f"the schedule now ends at step {fits} (was {total})")
                total = config["steps"] = fits
                with warnings.catch_warnings():   # "step() before optimizer.step()": replaying, not training
                    warnings.simplefilter("ignore", UserWarning)
                    sched = one_cycle(opt, a.lr, total)
                    for _ in range(step):   # to where the run is, on the new schedule
                        sched.step()
                write_config(a.out, config)
        overtime = a.max_minutes and (trained_before + time.time() - start) / 60 > a.max_minutes
        if time.time() - last_ckpt > a.checkpoint_minutes * 60 or step == total or overtime:
            save(ckpt_path, model=net.state_dict(), loss=crit.state_dict(), optimizer=opt.state_dict(),
                 scheduler=sched.state_dict(), step=step, config=config, ema=ema, train_seconds=trained_before + time.time() - start)
            last_ckpt = time.time()
            log(f"checkpoint at step {step}")
        if overtime and step < total:
            stopped_early = True
            log(f"stopping early at step {step}: --max-minutes {a.max_minutes} reached")
            break
    # The exported weights are the moving average; the raw last weights are kept next to them.
    # train_seconds: the training loop's time over every session of the run, for the card after a resume.
    save(os.path.join(a.out, "final.pt"), model=ema, model_raw=net.state_dict(), step=step, config=config,
         stopped_early=stopped_early, log_vars=crit.log_vars.detach().tolist(),
         train_seconds=trained_before + time.time() - start)
    log(f"done: {step} steps; weights in {os.path.join(a.out, 'final.pt')}")


if __name__ == "__main__":
    main()
