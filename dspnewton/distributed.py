"""Data-parallel Newton on torch.distributed (gloo on CPU, NCCL on CUDA).

A full-Hessian Newton step is a sum over frames: each worker computes loss,
gradient and Hessian on its shard of frames, one ``all_reduce`` sums them, and
every worker takes the same step (the line search's loss values are reduced the
same way, so every decision is identical and the parameters never diverge).
Only rank 0 writes outputs.  Launch with torchrun::

    torchrun --nproc-per-node 2 -m dspnewton fit IN.wav TARGET.wav -o out --distributed

Workers that crash or hang make the others fail after ``DSPNEWTON_DIST_TIMEOUT``
seconds (default 120) with a clear message instead of waiting forever.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from contextlib import contextmanager

import torch

from .audio import InputError

__all__ = ["worker_group", "DistContext", "DistributedError", "from_env"]


class DistributedError(InputError):
    """A worker failed, stopped answering, or the process group could not start."""


class DistContext:
    """One process group; rank, world size and the collectives the fit needs."""

    def __init__(self, backend: str, timeout_s: float):
        import torch.distributed as dist

        self.dist = dist
        self.timeout_s = timeout_s
        try:
            dist.init_process_group(backend=backend, timeout=datetime.timedelta(seconds=timeout_s))
        except (RuntimeError, ValueError) as exc:
            raise DistributedError(f"could not start the process group ({backend}): {exc}") from None
        self.backend = backend
        self.rank = dist.get_rank()
        self.world = dist.get_world_size()
        self.device = torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" else torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @contextmanager
    def _guard(self, what: str):
        try:
            yield
        except (RuntimeError, ValueError) as exc:  # gloo/NCCL report timeouts and lost peers as RuntimeError
            # The group is broken: tear it down now, while this thread controls it, so that
            # interpreter exit does not destroy gloo's threads mid-flight (SIGABRT at exit).
            self._teardown()
            raise DistributedError(
                f"rank {self.rank}: {what} failed: another worker crashed or stopped answering "
                f"(timeout {self.timeout_s:g} s): {str(exc).splitlines()[0]}") from None

    def reduce(self, values: torch.Tensor) -> torch.Tensor:
        """Sum a float64 CPU tensor over all workers (same result everywhere)."""
        t = values.to(self.device, torch.float64).contiguous()
        with self._guard("all_reduce"):
            self.dist.all_reduce(t, op=self.dist.ReduceOp.SUM)
        return t.cpu()

    def reduce_lgh(self, L, g, H):
        packed = torch.cat([torch.as_tensor(L, dtype=torch.float64).reshape(1), g.double().reshape(-1),
                            H.double().reshape(-1)])
        out = self.reduce(packed)
        n = g.numel()
        return out[0], out[1 : 1 + n], out[1 + n :].reshape(n, n)

    def reduce_scalar(self, value: float) -> float:
        return float(self.reduce(torch.tensor([float(value)], dtype=torch.float64))[0])

    def barrier(self) -> None:
        with self._guard("barrier"):
            self.dist.barrier()

    def shard(self, n_items: int) -> torch.Tensor:
        """Indices of this worker's items (round robin)."""
        return torch.arange(self.rank, n_items, self.world)

    def _teardown(self) -> None:
        try:
            if self.dist.is_initialized():
                self.dist.destroy_process_group()
        except Exception:  # noqa: BLE001 - a broken group may refuse; nothing more to do
            pass

    def close(self) -> None:
        self._teardown()


def from_env(device=None) -> DistContext:
    """Join the process group described by torchrun's environment (RANK, WORLD_SIZE, MASTER_ADDR, ...)."""
    missing = [k for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise DistributedError(f"--distributed needs torchrun's environment ({', '.join(missing)} unset); "
                               f"launch with: torchrun --nproc-per-node N -m dspnewton ...")
    backend = "nccl" if device is not None and str(device).startswith("cuda") else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    timeout = float(os.environ.get("DSPNEWTON_DIST_TIMEOUT", "120"))
    return DistContext(backend, timeout)


@contextlib.contextmanager
def worker_group(enabled: bool, device=None):
    """``with worker_group(distributed, device) as dist``: the joined group (torchrun's environment)
    or None when not ``enabled``; the group is torn down on exit, also after an error."""
    dist = from_env(device) if enabled else None
    try:
        yield dist
    finally:
        if dist is not None:
            dist.close()
