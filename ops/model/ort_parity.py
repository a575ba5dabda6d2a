#!/usr/bin/python3
"""Runs the exported ONNX model through the native ONNX Runtime (libonnxruntime.so.1, via ctypes on its C API)
and compares every output with eager PyTorch on real sample images. There is no Python onnxruntime package
here; this is the one ORT check available on the Python side.

    ort_parity.py --onnx models/nfc-reference.onnx --weights .local/model-train/final.pt \
                  [--lib .local/native/libonnxruntime.so.1] [--images samples/demo-study] [--limit 2]
"""
import argparse
import ctypes as C
import glob
import json
import os
import sys
import time

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_checks import existing_dir, existing_file, positive_int  # noqa: E402
from evaluate import load_model, model_input  # noqa: E402
from nfcnet import OUTPUT_NAMES  # noqa: E402

# Indices into the OrtApi function table (onnxruntime_c_api.h); the table only grows at the end.
IDX = dict(GetErrorMessage=2, CreateEnv=3, CreateSession=7, Run=9, CreateSessionOptions=10,
           SetIntraOpNumThreads=24, CreateTensorWithDataAsOrtValue=49, GetTensorMutableData=51,
           GetDimensionsCount=61, GetDimensions=62, GetTensorTypeAndShape=65, CreateCpuMemoryInfo=69,
           ReleaseStatus=93, ReleaseValue=96, ReleaseTensorTypeAndShapeInfo=99)
P = C.c_void_p


class Ort:
    def __init__(self, lib_path, threads):
        lib = C.CDLL(lib_path)
        lib.OrtGetApiBase.restype = C.POINTER(P * 2)
        base = lib.OrtGetApiBase().contents
        get_api = C.CFUNCTYPE(P, C.c_uint32)(base[0])
        self.version = C.CFUNCTYPE(C.c_char_p)(base[1])().decode()
        self.table = C.cast(get_api(13), C.POINTER(P * 300)).contents
        self.env, self.opts, self.mem = P(), P(), P()
        self.call("CreateEnv", [C.c_int, C.c_char_p, C.POINTER(P)], 3, b"parity", C.byref(self.env))
        self.call("CreateSessionOptions", [C.POINTER(P)], C.byref(self.opts))
        self.call("SetIntraOpNumThreads", [P, C.c_int], self.opts, threads)
        self.call("CreateCpuMemoryInfo", [C.c_int, C.c_int, C.POINTER(P)], 1, 0, C.byref(self.mem))

    def fn(self, name, argtypes, restype=P):
        return C.CFUNCTYPE(restype, *argtypes)(self.table[IDX[name]])

    def call(self, name, argtypes, *args):
        status = self.fn(name, argtypes)(*args)
        if status:
            msg = self.fn("GetErrorMessage", [P], C.c_char_p)(status).decode()
            self.release("ReleaseStatus", status)
            raise RuntimeError(f"{name}: {msg}")

    def release(self, name, handle):
        if handle:
            self.fn(name, [P], None)(handle)

    def session(self, path):
        s = P()
        self.call("CreateSession", [P, C.c_char_p, P, C.POINTER(P)], self.env, path.encode(), self.opts, C.byref(s))
        return s

    def run(self, sess, x, out_names):
        x = np.ascontiguousarray(x, np.float32)
        shape = (C.c_int64 * 4)(*x.shape)
        val = P()
        self.call("CreateTensorWithDataAsOrtValue", [P, P, C.c_size_t, P, C.c_size_t, C.c_int, C.POINTER(P)],
                  self.mem, x.ctypes.data, x.nbytes, shape, 4, 1, C.byref(val))
        in_names = (C.c_char_p * 1)(b"input")
        names = (C.c_char_p * len(out_names))(*[n.encode() for n in out_names])
        outs = (P * len(out_names))()
        result = []
        try:
            self.call("Run", [P, P, P, P, C.c_size_t, P, C.c_size_t, P], sess, None, in_names,
                      C.byref(val), 1, names, len(out_names), outs)
            for o in outs:
                info, n, data = P(), C.c_size_t(), P()
                self.call("GetTensorTypeAndShape", [P, C.POINTER(P)], o, C.byref(info))
                try:
                    self.call("GetDimensionsCount", [P, C.POINTER(C.c_size_t)], info, C.byref(n))
                    dims = (C.c_int64 * n.value)()
                    self.call("GetDimensions", [P, P, C.c_size_t], info, dims, n.value)
                finally:
                    self.release("ReleaseTensorTypeAndShapeInfo", info)
                self.call("GetTensorMutableData", [P, C.POINTER(P)], o, C.byref(data))
                count = int(np.prod(list(dims)))
                arr = np.ctypeslib.as_array(C.cast(data, C.POINTER(C.c_float)), shape=(count,)).copy()
                result.append(arr.reshape(list(dims)))
        finally:
            # Released per run: calibration runs hundreds, each output hundreds of MB at full size.
            for o in outs:
                self.release("ReleaseValue", o)
            self.release("ReleaseValue", val)
        return result


PARITY_FAILED = 3   # the exit code of a difference above the tolerance


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--onnx", default="models/nfc-reference.onnx", type=existing_file)
    ap.add_argument("--weights", required=True, type=existing_file)
    ap.add_argument("--lib", default=".local/native/libonnxruntime.so.1", type=existing_file)
    ap.add_argument("--images", default="samples/demo-study", type=existing_dir)
    ap.add_argument("--limit", type=positive_int, default=2)
    ap.add_argument("--threads", type=positive_int, default=2)
    ap.add_argument("--tolerance", type=float, default=1e-2,
                    help="largest absolute difference of any output allowed (exit 3 above it; the shipped model: 3.8e-4)")
    a = ap.parse_args(argv)
    paths = sorted(glob.glob(os.path.join(a.images, "**", "*.jpg"), recursive=True))[: a.limit]
    if not paths:   # before anything is loaded; the card's line would otherwise fail on an empty comparison
        raise SystemExit(f"no .jpg images under {a.images}: nothing to compare")
    import torch
    torch.set_num_threads(a.threads)
    ort = Ort(a.lib, a.threads)
    sess = ort.session(a.onnx)
    model, _ = load_model(a.weights)
    report = {"ort_version": ort.version, "images": [], "max_abs_diff": {}}
    for p in paths:
        rgb = cv2.imread(p, cv2.IMREAD_COLOR)[..., ::-1]
        x = model_input(rgb)
        t0 = time.time()
        got = ort.run(sess, x, OUTPUT_NAMES)
        t_ort = time.time() - t0
        t0 = time.time()
        with torch.no_grad():
            ref = [o.numpy() for o in model(torch.from_numpy(x))]
        t_eager = time.time() - t0
        for name, g, r in zip(OUTPUT_NAMES, got, ref):
            if g.shape != r.shape:
                raise SystemExit(f"{name}: ORT shape {g.shape} != eager {r.shape}")
            d = float(np.abs(g - r).max())
            report["max_abs_diff"][name] = max(report["max_abs_diff"].get(name, 0.0), d)
        report["images"].append({"path": p, "input": list(x.shape), "ort_s": round(t_ort, 3),
                                 "eager_s": round(t_eager, 3)})
    print(json.dumps(report, indent=2))
    # A parity check that cannot fail is none: the card would say ORT reproduces eager PyTorch whatever the difference.
    worst = max(report["max_abs_diff"].values())
    if not worst <= a.tolerance:
        # Its own exit code: finish.sh stops on it, where a missing library or an error of the check is only left out.
        print(f"ORT differs from eager PyTorch by {worst:.3g}, more than --tolerance {a.tolerance:g}", file=sys.stderr)
        raise SystemExit(PARITY_FAILED)


if __name__ == "__main__":
    main()
