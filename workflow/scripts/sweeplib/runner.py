"""One (scale, device) training job, as plain functions of its settings and data."""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from .atomic import torch_save, write_csv, write_text
from .checkpoint import save_checkpoint
from .data import dataset_sha256, make_loader
from .devices import synchronizer, torch_device
from .env import accelerator_name, host_environment, machine_id
from .memory import estimate, gib
from .model import NeuralNetwork, count_params
from .sizes import ModelSizes
from .timing import TimingPlan, seed_comparable_total, summarise, train_timed


def peak_rss() -> int:
    """This process's peak resident memory in bytes.

    On Linux, VmHWM, which starts afresh at exec; ``ru_maxrss`` does not, so a
    job would inherit the peak of the Snakemake process that forked it.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


def peak_memory(device: str) -> tuple[int, str]:
    """Peak memory of this process so far: the allocator's for an accelerator, RSS for the CPU."""
    if device == "cuda":
        return int(torch.cuda.max_memory_allocated()), "cuda_max_allocated"
    if device == "mps":
        return int(torch.mps.driver_allocated_memory()), "mps_driver_allocated"
    return peak_rss(), "peak_rss"


def plan_for(settings: dict, batches_per_epoch: int) -> TimingPlan:
    t = settings["timing"]
    return TimingPlan(
        protocol_steps=settings["train"]["epochs"] * batches_per_epoch,
        warmup_steps=t["warmup_steps"],
        repeats=t["repeats"],
        steps_per_repeat=None if t["steps_per_repeat"] == "all" else t["steps_per_repeat"],
    )


def run_training(settings: dict, data: dict, run_key: str, log=print) -> dict:
    """Train one model as the settings say, timing it; return every table and the model."""
    started, started_at = time.perf_counter(), time.time()
    name = settings["device"]["name"]
    torch.set_num_threads(settings["device"]["threads"])
    device = torch_device(name)
    sync = synchronizer(name)
    tr = settings["train"]
    sizes = ModelSizes(**settings["sizes"])

    # The post seeds the global generator before it builds the model: the
    # initial weights and the DataLoader's shuffling both draw from it.
    torch.manual_seed(tr["model_seed"])
    train_loader = make_loader(
        data["X_train"], data["Y_train"], kind=tr["loader"], batch_size=tr["batch_size"], shuffle=True, num_workers=tr["num_workers"]
    )
    test_loader = make_loader(data["X_test"], data["Y_test"], kind=tr["loader"], batch_size=tr["batch_size"], shuffle=False)
    plan = plan_for(settings, len(train_loader))
    footprint = estimate(sizes, tr["batch_size"], len(data["Y_train"]), len(data["Y_test"]), accelerator=not name.startswith("cpu"))
    try:
        model = NeuralNetwork(sizes).to(device)
        optimizer = torch.optim.SGD(model.parameters(), lr=tr["lr"])
        log(f"scale {settings['scale']} on {name}: {count_params(model):,} parameters, {plan.total_steps} of {plan.protocol_steps} steps")
        result = train_timed(
            model,
            optimizer,
            train_loader,
            test_loader,
            data["Y_test"],
            epochs=tr["epochs"],
            plan=plan,
            device=device,
            sync=sync,
            mimic_seed_prints=settings["timing"]["mimic_seed_prints"],
            log=log,
        )
    except (torch.OutOfMemoryError, RuntimeError) as exc:
        # CUDA raises OutOfMemoryError; the CPU allocator a RuntimeError saying it "can't allocate memory".
        if not isinstance(exc, torch.OutOfMemoryError) and "allocate memory" not in str(exc):
            raise
        raise MemoryError(
            f"scale {settings['scale']} on {name} ran out of memory; the estimate was {gib(footprint.total)} "
            f"(weights {gib(footprint.weights)}, gradients {gib(footprint.gradients)}): {exc}"
        ) from exc

    env = host_environment()
    hardware = accelerator_name(name)
    peak, peak_kind = peak_memory(name)
    steps = pd.DataFrame(result.steps)
    total_s, extrapolated = seed_comparable_total(result, plan, tr["epochs"])
    warm = steps[steps["repeat"] < 0]
    timed = steps[steps["repeat"] >= 0]
    evals = pd.DataFrame(result.evals)
    run_columns = {
        "run_key": run_key,
        "machine": machine_id(hardware, env),
        "scale": settings["scale"],
        "params": count_params(model),
        "device": name,
        "device_name": hardware,
        "threads": torch.get_num_threads(),
        "epochs": tr["epochs"],
        "batch_size": tr["batch_size"],
        "lr": tr["lr"],
        "loader": tr["loader"],
        "num_workers": tr["num_workers"],
        "warmup_steps": plan.warmup_steps,
        "repeats": plan.repeats,
        "timed_steps": plan.timed_steps,
        "protocol_steps": plan.protocol_steps,
        "mimic_seed_prints": settings["timing"]["mimic_seed_prints"],
        "warmup_s": float(warm["step_s"].sum()),
        "first_step_s": float(steps["step_s"].iloc[0]),
        "eval_s": float(evals["eval_s"].median()),
        "eval_batches": int(evals["batches"].iloc[-1]),
        "total_s": total_s,
        "total_extrapolated": extrapolated,
        "final_accuracy": float(evals["accuracy"].iloc[-1]),
        "peak_mem_bytes": peak,
        "peak_mem_kind": peak_kind,
        "mem_estimate_bytes": footprint.total,
        "dataset_sha256": dataset_sha256(data),
        "wall_s": time.perf_counter() - started,
        "started_at": started_at,
        "ended_at": time.time(),
        **env,
    }
    rows = []
    for r, window in timed.groupby("repeat"):
        st, ds = summarise(window["step_s"].tolist()), summarise(window["data_s"].tolist())
        rows.append(
            {
                **run_columns,
                "repeat": int(r),
                "steps": st["n"],
                "step_median_s": st["median"],
                "step_q25_s": st["q25"],
                "step_q75_s": st["q75"],
                "step_min_s": st["min"],
                "step_max_s": st["max"],
                "data_median_s": ds["median"],
                "data_share": float(window["data_s"].sum() / window["step_s"].sum()),
            }
        )
    epochs = steps.groupby("epoch").agg(steps=("step", "size"), mean_loss=("loss", "mean"), train_s=("step_s", "sum")).reset_index()
    epochs = epochs.merge(evals[["epoch", "eval_s", "accuracy", "complete_epoch"]], on="epoch", how="left")
    return {
        "model": model,
        "timings": pd.DataFrame(rows),
        "steps": steps.assign(run_key=run_key, scale=settings["scale"], device=name),
        "epochs": epochs,
        "test_logits": result.test_logits,
    }


def write_run(outputs: dict, result: dict, settings: dict, run_key: str) -> None:
    """Write a run's files, each atomically; the timing CSV last, so its presence means the run finished."""
    meta = {"run_key": run_key, "scale": settings["scale"], "device": settings["device"]["name"], "settings": json.dumps(settings)}
    save_checkpoint(outputs["checkpoint"], result["model"], meta)
    torch_save(outputs["predictions"], {"logits": result["test_logits"], "run_key": run_key})
    write_csv(outputs["steps"], result["steps"])
    write_csv(outputs["epochs"], result["epochs"])
    write_text(outputs["settings"], json.dumps(settings, indent=2, sort_keys=True) + "\n")
    write_csv(outputs["timings"], result["timings"])


def load_dataset(path: str | Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)
