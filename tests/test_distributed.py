"""Data-parallel Newton on torch.distributed (gloo, loopback): two workers give the
one-process fit; a crashed worker fails the run with a clear message, not a hang;
torchrun drives the CLI; a distributed sweep spreads the chains."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time

import pytest
import soundfile as sf
import torch

import dspnewton
from dspnewton.model import CompressorParams, compress
from dspnewton.synth import music_like

SR = 16000

WORKER = textwrap.dedent(
    """
    import json, os, sys, torch
    import dspnewton
    from dspnewton.distributed import from_env
    rank = int(os.environ["RANK"])
    data = torch.load(sys.argv[1])
    crash = sys.argv[3] == "crash"
    def cb(entry):
        if crash and rank == 1 and entry["iteration"] == 2:
            os._exit(17)  # a worker dies mid-fit
    ctx = from_env()
    try:
        r = dspnewton.fit(data["x"], data["y"], data["sr"], frame_seconds=2.0, overlap_seconds=0.5, dist=ctx, callback=cb)
    except dspnewton.audio.InputError as exc:
        print("ERROR:", exc, file=sys.stderr)
        sys.exit(3)
    if rank == 0:
        with open(sys.argv[2], "w") as fh:
            json.dump({"params": r.params.to_dict(), "iterations": r.iterations, "loss": r.loss,
                       "workers": r.extra["workers"]}, fh)
    ctx.close()
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pair(seconds=9.0):
    x = torch.from_numpy(music_like(seconds, SR, seed=12))
    y = compress(x[None], CompressorParams(-22, 4.2, 2.9, 243, 0.34).to_theta(SR), SR)[0]
    return x, y + 0.02 * torch.tanh(3 * y)


def _launch(tmp_path, mode: str, timeout_env: str = "60"):
    x, y = _pair()
    data = tmp_path / "pair.pt"
    torch.save({"x": x, "y": y, "sr": SR}, data)
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    port = _free_port()
    procs = []
    for rank in range(2):
        env = dict(os.environ, RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                   MASTER_PORT=str(port), DSPNEWTON_DIST_TIMEOUT=timeout_env, OMP_NUM_THREADS="1")
        procs.append(subprocess.Popen([sys.executable, str(script), str(data), str(tmp_path / "out.json"), mode],
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return procs, (x, y)


def test_two_workers_equal_one_process(tmp_path):
    procs, (x, y) = _launch(tmp_path, "ok")
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    dist_result = json.loads((tmp_path / "out.json").read_text())
    single = dspnewton.fit(x, y, SR, frame_seconds=2.0, overlap_seconds=0.5)
    assert dist_result["workers"] == 2
    assert dist_result["iterations"] == single.iterations
    assert abs(dist_result["loss"] - single.loss) <= 1e-9 * single.loss
    for name, v in single.params.to_dict().items():
        assert abs(dist_result["params"][name] - v) <= 1e-9 * max(1.0, abs(v)), name


def test_crashed_worker_fails_clearly_instead_of_hanging(tmp_path):
    procs, _ = _launch(tmp_path, "crash", timeout_env="10")
    t0 = time.time()
    outs = [p.communicate(timeout=300) for p in procs]
    assert time.time() - t0 < 200
    assert procs[1].returncode == 17
    assert procs[0].returncode == 3, outs[0][1][-2000:]
    assert "another worker crashed or stopped answering" in outs[0][1]
    assert not (tmp_path / "out.json").exists()


def test_torchrun_cli_fit_and_sweep(tmp_path):
    torchrun = shutil.which("torchrun") or os.path.join(os.path.dirname(sys.executable), "torchrun")
    assert os.path.exists(torchrun), "torchrun ships with torch"
    x, y = _pair(6.0)
    sf.write(tmp_path / "in.wav", x.numpy(), SR, subtype="FLOAT")
    sf.write(tmp_path / "tg.wav", y.numpy(), SR, subtype="FLOAT")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    base = [torchrun, "--nproc-per-node", "2", "--master-port", str(_free_port()), "-m", "dspnewton"]
    proc = subprocess.run(base + ["fit", str(tmp_path / "in.wav"), str(tmp_path / "tg.wav"), "-o", str(tmp_path / "fit"),
                                  "--frame-seconds", "2", "--overlap-seconds", "0.5", "--distributed", "--quiet"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    d = json.loads((tmp_path / "fit" / "fit.json").read_text())
    assert d["extra"]["workers"] == 2 and d["converged"]
    # Sweep: the two chains (compress, limit) run on the two workers.
    from dspnewton.data import generate_dataset

    generate_dataset(tmp_path / "data", seconds=3.0, peaks=range(40, 101, 30), sample_rate=8000)
    base[4] = str(_free_port())
    proc = subprocess.run(base + ["sweep", str(tmp_path / "data"), "-o", str(tmp_path / "sweep"), "--peaks", "40,70,100",
                                  "--distributed", "--quiet"], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    mapping = json.loads((tmp_path / "sweep" / "mapping.json").read_text())
    assert set(mapping) == {"compress", "limit"} and all(len(v) == 3 for v in mapping.values())
    assert not list((tmp_path / "sweep").glob(".done-rank*"))


def test_distributed_needs_torchrun_environment(tmp_path, monkeypatch):
    from dspnewton.distributed import DistributedError, from_env

    for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(k, raising=False)
    with pytest.raises(DistributedError, match="launch with: torchrun"):
        from_env()
