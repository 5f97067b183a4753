"""One training process or one rank of ``torchrun``: process group, device, DDP wrapping and the few
collectives the training loop needs (mean loss terms for the log, replica digests, a shared stop flag).

torchrun sets RANK / WORLD_SIZE / LOCAL_RANK; without them this is a single process and every collective is
the identity. Backend: nccl on CUDA, gloo on CPU. Batch norm: SyncBatchNorm on CUDA (statistics over the
global batch); on CPU torch has no SyncBatchNorm, so each process normalises over its own clouds.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import torch


@dataclass
class Distributed:
    rank: int
    world: int
    device: torch.device
    local_world: int = 1     # processes of this run on this machine (they share its cores)

    @classmethod
    def from_env(cls, device: str = "cpu") -> "Distributed":
        if device == "cuda" and not torch.cuda.is_available():
            raise ValueError("--device cuda but torch sees no CUDA device")
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        if device == "cuda":
            local = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local)
            dev = torch.device("cuda", local)
        else:
            dev = torch.device("cpu")
        if world > 1 and not torch.distributed.is_initialized():
            torch.distributed.init_process_group("nccl" if device == "cuda" else "gloo")
        return cls(rank, world, dev, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        if self.world == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel
        if self.device.type == "cuda":
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
            return DistributedDataParallel(model, device_ids=[self.device.index])
        return DistributedDataParallel(model)

    def mean_terms(self, terms: dict) -> dict:
        """Loss terms averaged over the ranks (what the global batch's loss is)."""
        if self.world == 1:
            return terms
        keys = sorted(terms)
        values = torch.tensor([float(terms[k]) for k in keys], dtype=torch.float64, device=self.device)
        torch.distributed.all_reduce(values)
        return {k: float(v) / self.world for k, v in zip(keys, values)}

    def gather_strings(self, text: str) -> list[str]:
        if self.world == 1:
            return [text]
        out: list = [None] * self.world
        torch.distributed.all_gather_object(out, text)
        return out

    def any(self, flag: bool) -> bool:
        """True on every rank when it is True on one (so all ranks stop at the same step)."""
        if self.world == 1:
            return bool(flag)
        value = torch.tensor([int(bool(flag))], device=self.device)
        torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MAX)
        return bool(value.item())

    def log(self, message: str) -> None:
        if self.rank == 0:
            print(message, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
