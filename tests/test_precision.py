"""The precision axis on the measurement side: a bfloat16 step runs its forward pass
under autocast and keeps float32 weights, a float32 step is the post's, the bytes
and memory follow the precision, the probes measure in it, and which device can run
it."""

import json
from dataclasses import replace
from types import SimpleNamespace

import check_inference
import measure_hardware
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from interleaving import SIZES, TRAINING
from sweeplib.common.devices import PRECISIONS, precision_problem
from sweeplib.common.env import cpu_instructions
from sweeplib.common.memory import model_footprint
from sweeplib.common.sizes import (
    STATE_BYTES_PER_PARAM,
    ModelSizes,
    state_bytes_per_param,
)
from sweeplib.common.tables import read_csv
from sweeplib.measure import hardware
from sweeplib.measure.checkpoint import load_checkpoint, load_predictions
from sweeplib.measure.data import make_dataset
from sweeplib.measure.inference import (
    InferenceMismatch,
    check,
    predict_batches,
    tolerance,
)
from sweeplib.measure.processes import run_columns
from sweeplib.measure.timing import Trainer
from sweeplib.measure.training import build_trainer, save_outputs
from sweeplib.plan import probe
from sweeplib.plan.runspec import Device
from sweeplib.plan.schedule import Schedule

CPU1 = {"name": "cpu1", "threads": 1}


def trainer_in(precision: str, data: dict, loader: str = "dataloader") -> Trainer:
    training = replace(TRAINING, precision=precision, loader=loader)
    t = build_trainer("cpu1", 1, SIZES, training, data, build_threads=1)
    t.activate()
    return t


def linear_outputs(model) -> list:
    """Each Linear layer's output dtype and whether autocast was on, as the forward
    runs: filled by hooks."""
    seen = []
    for layer in model.modules():
        if isinstance(layer, torch.nn.Linear):
            layer.register_forward_hook(
                lambda m, i, out: seen.append(
                    (out.dtype, torch.is_autocast_enabled("cpu"))
                )
            )
    return seen


@pytest.fixture
def data():
    return make_dataset(20, 60, 10, seed=0)


def test_a_bfloat16_step_runs_its_layers_in_bfloat16_on_float32_weights(data):
    t = trainer_in("bfloat16", data)
    before = [p.detach().clone() for p in t.model.parameters()]
    seen = linear_outputs(t.model)
    t.step()
    assert seen == [(torch.bfloat16, True)] * 3
    for p, old in zip(t.model.parameters(), before):
        assert p.dtype == torch.float32 and p.grad.dtype == torch.float32
        assert not torch.equal(p, old)  # the update ran
    assert not torch.is_autocast_enabled("cpu")  # the context was left
    assert t.losses[-1].dtype == torch.float32
    seen.clear()
    t.rehearse()
    assert seen == [(torch.bfloat16, True)] * 3


def test_a_float32_step_is_the_posts_step_with_no_autocast(data):
    t = trainer_in("float32", data)
    seen = linear_outputs(t.model)
    for _ in range(8):  # crosses an epoch: 6 batches of 10
        t.step()
    assert seen == [(torch.float32, False)] * 3 * 8
    # The same steps in plain torch, as the post writes them.
    torch.set_num_threads(1)
    torch.manual_seed(TRAINING.model_seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(20, 30),
        torch.nn.ReLU(),
        torch.nn.Linear(30, 10),
        torch.nn.ReLU(),
        torch.nn.Linear(10, 2),
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=TRAINING.lr)
    loader = DataLoader(
        TensorDataset(data["X_train"], data["Y_train"]),
        batch_size=TRAINING.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(TRAINING.model_seed),
    )
    expected = []
    for step in range(8):
        # A new epoch's iterator after the sixth batch, as the Trainer takes it (not
        # run to its end: an exhausted RandomSampler would draw one more shuffle).
        if step % 6 == 0:
            batches = iter(loader)
        x, y = next(batches)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        expected.append(loss.item())
    assert t.loss_values() == expected


def test_bfloat16_and_float32_train_differently(data):
    losses = {}
    for precision in PRECISIONS:
        t = trainer_in(precision, data)
        for _ in range(3):
            t.step()
        losses[precision] = t.loss_values()
    assert losses["float32"][0] != losses["bfloat16"][0]


def test_an_unknown_precision_is_refused(data):
    with pytest.raises(ValueError, match="float16"):
        trainer_in("float16", data)


def saved_run(tmp_path, data, precision: str) -> dict:
    t = trainer_in(precision, data, loader="tensor")
    for _ in range(4):
        t.step()
    run = SimpleNamespace(
        training=SimpleNamespace(loader="tensor", batch_size=10),
        key="k",
        scale=1,
        to_json=lambda: "{}",
    )
    paths = {p: str(tmp_path / f"{p}.pt") for p in ("checkpoint", "predictions")}
    save_outputs(t, data, paths, run)
    return paths


def test_bfloat16_logits_are_saved_and_checked_in_bfloat16(tmp_path, data):
    paths = saved_run(tmp_path, data, "bfloat16")
    model, meta = load_checkpoint(paths["checkpoint"])
    reference = load_predictions(paths["predictions"], "k")
    assert meta["precision"] == "bfloat16"
    assert all(p.dtype == torch.float32 for p in model.parameters())
    # Float32 numbers that are bfloat16 values: the evaluation ran under autocast.
    assert reference.dtype == torch.float32
    assert torch.equal(reference.bfloat16().float(), reference)
    sync = lambda: None  # noqa: E731
    again, _ = predict_batches(model, data["X_test"], 10, "cpu", sync, 0, "bfloat16")
    assert torch.equal(again, reference)
    in_float32, _ = predict_batches(model, data["X_test"], 10, "cpu", sync, 0)
    assert not torch.equal(in_float32, reference)
    found = check(model, data, reference, 10, "cpu", sync, "x", precision="bfloat16")
    assert found["max_abs_diff"] == 0.0
    with pytest.raises(InferenceMismatch, match="rtol=0.0078125, atol=0.001"):
        check(model, data, reference + 0.05, 10, "cpu", sync, "x", "bfloat16")


def test_the_inference_check_predicts_in_the_runs_precision(tmp_path, data):
    paths = saved_run(tmp_path, data, "bfloat16")
    device = Device("cpu1", 1, "cpu", "00000000")
    args = (device, paths["checkpoint"], paths["predictions"], data, 10)
    row = check_inference.check_device(*args, "bfloat16")
    assert (row["precision"], row["rtol"], row["atol"]) == ("bfloat16", 2**-7, 1e-3)
    assert row["max_abs_diff"] == 0.0
    with pytest.raises(InferenceMismatch, match="trained in bfloat16"):
        check_inference.check_device(*args)
    (tmp_path / "f").mkdir()
    float32 = saved_run(tmp_path / "f", data, "float32")
    row = check_inference.check_device(
        device, float32["checkpoint"], float32["predictions"], data, 10
    )
    assert (row["precision"], row["rtol"], row["atol"]) == ("float32", 1e-4, 1e-5)
    assert tolerance("float32") == (1e-4, 1e-5)


def test_bytes_per_step_follow_the_precision():
    sizes = ModelSizes.for_scale(1)  # 90,902 parameters, 30,300 in the first layer
    assert sizes.bytes_per_step() == 24 * 90_902 - 4 * 30_300
    assert sizes.bytes_per_step("float32") == sizes.bytes_per_step()
    # cast 4 + 2, forward 2, input gradient 2, bfloat16 gradient 2 + 2, float32
    # gradient 4, update 12; the first layer needs no input gradient.
    assert sizes.bytes_per_step("bfloat16") == 30 * 90_902 - 2 * 30_300
    with pytest.raises(ValueError, match="float16"):
        sizes.bytes_per_step("float16")
    assert STATE_BYTES_PER_PARAM == state_bytes_per_param() == 8
    assert state_bytes_per_param("bfloat16") == 10


def test_the_memory_estimate_follows_the_precision():
    sizes = ModelSizes(20, 30, 10)  # 630 + 310 + 22 = 962 parameters
    f32 = model_footprint(sizes, 10, "cuda")
    assert f32 == model_footprint(sizes, 10, "cuda", "float32")
    assert (f32.weights, f32.gradients, f32.weight_copies) == (3848, 3848, 0)
    assert f32.activations == 2 * 4 * 10 * (20 + 2 * (30 + 10 + 2))
    bf16 = model_footprint(sizes, 10, "cuda", "bfloat16")
    assert (bf16.weights, bf16.gradients) == (f32.weights, f32.gradients)
    assert bf16.weight_copies == 2 * (962 + 630)  # every copy, the largest gradient
    # The input and the logits in float32 and bfloat16, hidden layers in bfloat16.
    assert bf16.activations == 2 * 10 * (6 * 20 + 2 * 2 * (30 + 10) + 6 * 2 * 2)
    assert bf16.training == 2 * 3848 + bf16.activations + bf16.weight_copies
    assert bf16.reload == 3848 + bf16.activations + bf16.weight_copies
    assert bf16.checkpoint_copy == f32.checkpoint_copy == 3848
    with pytest.raises(ValueError, match="float16"):
        model_footprint(sizes, 10, "cpu", "float16")


def dtypes_timed(monkeypatch) -> list:
    """The dtype of what each timed call returns, as ``hardware.time_calls`` sees it."""
    seen, real = [], hardware.time_calls

    def spy(fn, *args, **kwargs):
        seen.append(fn().dtype)
        return real(fn, *args, **kwargs)

    monkeypatch.setattr(hardware, "time_calls", spy)
    return seen


def test_the_matmul_probe_multiplies_in_its_dtype(monkeypatch):
    seen = dtypes_timed(monkeypatch)
    out = hardware.matmul_throughput("cpu", lambda: None, 64, 3, 0.0, torch.bfloat16)
    assert out["flops"] > 0 and out["matmul_median_s"] > 0
    out = hardware.matmul_throughput("cpu", lambda: None, 64, 3, 0.0)
    assert out["flops"] > 0
    assert seen == [torch.bfloat16, torch.float32]


@pytest.mark.parametrize(
    "precisions", [None, ["float32"], ["float32", "bfloat16"]], ids=str
)
def test_the_hardware_job_measures_every_precision_it_is_given(
    tmp_path, monkeypatch, precisions
):
    settings = {
        "device": {"name": "cpu1", "threads": 1, "hardware": "a CPU"},
        "copy_mib": 1,
        "matmul_n": 32,
        "repeats": 2,
        "min_s": 0.0,
        **({"precisions": precisions} if precisions else {}),
    }
    seen = dtypes_timed(monkeypatch)
    monkeypatch.setattr(measure_hardware, "set_thread_variables", lambda n: None)
    out = tmp_path / "hardware.csv"
    threads = torch.get_num_threads()
    try:
        measure_hardware.main(
            SimpleNamespace(
                params=SimpleNamespace(settings=json.dumps(settings)),
                log=[str(tmp_path / "job.log")],
                output=[str(out)],
            )
        )
    finally:
        torch.set_num_threads(threads)
    row = read_csv(out).iloc[0]
    others = [p for p in precisions or [] if p != "float32"]
    # The copy in float32 whatever the precisions, the product in float32 (``flops``)
    # and then in each other precision (``flops_<precision>``).
    assert seen == [torch.float32, torch.float32, *(getattr(torch, p) for p in others)]
    assert row["copy_bytes"] == 2 * 2**20
    assert row["flops"] > 0
    assert [c for c in row.index if c.startswith("flops_")] == [
        f"flops_{p}" for p in others
    ]
    assert all(row[f"flops_{p}"] > 0 for p in others)


ACCELERATED = {
    "accelerators": {
        "cuda": {"name": "NVIDIA H100", "capability": "9.0", "precisions": PRECISIONS},
        "mps": {"name": "Apple MPS (M1)", "precisions": ["float32", "bfloat16"]},
    }
}
OLD_GPU = {
    "accelerators": {
        "cuda": {"name": "Tesla P100", "capability": "6.0", "precisions": ["float32"]},
        "mps": {"name": "Apple MPS (M1)", "precisions": ["float32"]},
    }
}
OLD_FACTS = {"accelerators": {"cuda": {"name": "NVIDIA H100", "capability": "9.0"}}}


def test_which_device_can_run_which_precision():
    for device in ("cpu", "cpu1"):
        assert precision_problem(device, "bfloat16", {"accelerators": {}}) is None
    for device in ("cuda", "mps"):
        assert precision_problem(device, "bfloat16", ACCELERATED) is None
        assert precision_problem(device, "float32", OLD_GPU) is None
    cuda = precision_problem("cuda", "bfloat16", OLD_GPU)
    assert "Tesla P100" in cuda and "is_bf16_supported" in cuda and "6.0" in cuda
    mps = precision_problem("mps", "bfloat16", OLD_GPU)
    assert "Apple MPS (M1)" in mps and "autocast" in mps
    # Facts from before precisions: float32 only, and the answer says why.
    assert precision_problem("cuda", "float32", OLD_FACTS) is None
    assert "probe again" in precision_problem("cuda", "bfloat16", OLD_FACTS)
    assert "not found" in precision_problem("mps", "bfloat16", OLD_FACTS)
    assert "'float16'" in precision_problem("cpu", "float16", ACCELERATED)
    for problem in (cuda, mps):
        assert "\n" not in problem


def test_the_probe_records_cudas_precisions():
    def fake_torch(bf16: bool, native: bool):
        cuda = SimpleNamespace(
            get_device_properties=lambda i: SimpleNamespace(
                major=7, minor=0, multi_processor_count=80, L2_cache_size=6 * 2**20
            ),
            mem_get_info=lambda i: (1, 2),
            get_device_name=lambda i: "Tesla V100",
            is_bf16_supported=lambda including_emulation=True: (
                native or (bf16 and including_emulation)
            ),
        )
        return SimpleNamespace(cuda=cuda)

    emulated = probe.cuda_facts(fake_torch(True, False))
    assert emulated["precisions"] == ["float32", "bfloat16"]
    assert emulated["bf16_native"] is False
    none = probe.cuda_facts(fake_torch(False, False))
    assert none["precisions"] == ["float32"]
    assert precision_problem("cuda", "bfloat16", {"accelerators": {"cuda": none}})


def test_the_autocast_probe_runs_a_bfloat16_product():
    assert probe.autocast_works(torch, "cpu")

    def refuse(*args, **kwargs):
        raise RuntimeError("no such device")

    assert not probe.autocast_works(SimpleNamespace(ones=refuse), "mps")


SAPPHIRE_RAPIDS = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu vme sse sse2 avx avx2 fma avx512f avx512dq avx512_bf16 amx_bf16 \
avx512_fp16 amx_tile amx_int8 avx512_vnni
bugs\t\t: spectre_v1

processor\t: 1
flags\t\t: fpu
"""
ZEN2 = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma sha_ni\n"
GRAVITON3 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\nCPU part\t: 0xd40\n"


def test_cpu_instructions_are_read_from_cpuinfo(tmp_path):
    assert cpu_instructions(SAPPHIRE_RAPIDS) == (
        "avx2 avx512f avx512_bf16 avx512_fp16 amx_tile amx_bf16 amx_int8"
    )
    assert cpu_instructions(ZEN2) == "avx2"
    assert cpu_instructions(GRAVITON3) == "arm_bf16"
    assert cpu_instructions("processor\t: 0\nflags\t\t: fpu sse2\n") == ""
    assert cpu_instructions("") == ""
    path = tmp_path / "cpuinfo"
    path.write_text(ZEN2)
    assert cpu_instructions(path) == "avx2"


def test_run_columns_carry_the_precision():
    schedule = Schedule(
        protocol_steps=4, warmup_steps=1, rounds=1, steps_per_window=2, switch_steps=1
    )
    spec = SimpleNamespace(
        training=replace(TRAINING, precision="bfloat16"),
        timing=SimpleNamespace(processes=1, rounds=1, mimic_post_prints=False),
        schedule=lambda: schedule,
        device=lambda d: SimpleNamespace(hardware_tag="t", hardware="h", threads=1),
        key="k",
        pairing="interleaved",
        scale=1,
        params=962,
    )
    steps = pd.DataFrame(
        {
            "step": range(4),
            "process": 0,
            "trains": True,
            "step_s": 0.1,
            "kind": ["warmup", "switch", "timed", "timed"],
        }
    )
    procs = pd.DataFrame({"process": [0], "eval_s": [0.01]})
    columns = run_columns(steps, procs, spec, "cpu1")
    assert columns["precision"] == "bfloat16"
    assert list(columns).index("precision") == list(columns).index("batch_size") + 1
