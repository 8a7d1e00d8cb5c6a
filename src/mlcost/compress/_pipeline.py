"""`mlcost compress`: build every applicable variant of a model, each checked against its parent.

Every variant is a folder under the output folder, built in a staging folder
and renamed into place, with ``variant.json`` written last: a crash leaves the
old variant or none, never half of one. A variant whose recipe and parent are
unchanged is reused, so a second run only measures.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mlcost.compress._cpu import Int8Settings, int8_settings
from mlcost.compress._inputs import METHODS, Inputs
from mlcost.compress._onnx import export_onnx, optimize_transformer
from mlcost.compress._prune import PruneSettings, prune_classifier
from mlcost.compress._race import CHOICE_RULE, Entry, RaceResult, race
from mlcost.compress._recipes import (
    SESSION_TRIES,
    Int8Recipe,
    build_dynamic,
    build_openvino,
    dynamic_recipes,
    static_recipes,
)
from mlcost.compress._static import quantize_static_int8
from mlcost.core import (
    CompressError,
    Variant,
    from_jsonable,
    require,
    staged_folder,
    to_jsonable,
    write_text_atomic,
)
from mlcost.runtime import (
    ONNX_FILE,
    OPENVINO_FILE,
    CpuFeatures,
    artifact_bytes,
    load_classifier,
    load_tokenizer,
    open_session,
    pad,
    predict_logits,
    read_cpu_features,
    threads_allowed,
    tokenize,
)
from mlcost.train import TrainConfig, distillation_from, run_training

VARIANT_FILE = "variant.json"
DEFAULT_METHODS = METHODS
# A quantized variant that disagrees with its parent on more rows than this is broken, not lossy.
MIN_AGREEMENT_WITH_PARENT = 0.9
Log = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class DistillSettings:
    """The student and its teacher-student fine-tune (all through the resilient train engine)."""

    student_layers: int | None = None  # None: half the teacher's layers
    train_samples: int | None = 4000
    epochs: int = 1
    learning_rate: float = 1e-4
    temperature: float = 2.0
    alpha: float = 0.5


@dataclass(frozen=True, slots=True)
class CompressConfig:
    """What to build, from what, and how much accuracy may be traded for speed."""

    out_dir: Path
    methods: tuple[str, ...] = DEFAULT_METHODS
    accuracy_budget_pt: float = 0.5
    calibration: Literal["percentile", "entropy"] = "percentile"
    calibration_samples: int = 128
    prune: PruneSettings = field(default_factory=PruneSettings)
    prune_train_samples: int | None = 4000
    distill: DistillSettings = field(default_factory=DistillSettings)
    seed: int = 42

    def validate(self) -> None:
        """Raise CompressError naming the bad setting."""
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise CompressError(f"unknown method {unknown[0]!r}; choose from {', '.join(METHODS)}")
        if self.accuracy_budget_pt < 0:
            raise CompressError("--accuracy-budget-pt must be >= 0 (points of accuracy)")
        if self.calibration_samples < 1:
            raise CompressError("--calibration-samples must be >= 1")


@dataclass(frozen=True, slots=True)
class Skipped:
    """A method not built here, and why."""

    method: str
    reason: str


@dataclass(frozen=True, slots=True)
class CompressResult:
    variants: tuple[Variant, ...]
    skipped: tuple[Skipped, ...]


def build_variants(
    inputs: Inputs, config: CompressConfig, *, log: Log = lambda _: None
) -> CompressResult:
    """Build the baseline and every variant ``config.methods`` asks for (see the module doc).

    Raises CompressError when a step fails or a variant disagrees with its parent.
    """
    config.validate()
    builder = _Builder(inputs, config, log)
    return builder.run()


class _Builder:
    def __init__(self, inputs: Inputs, config: CompressConfig, log: Log) -> None:
        self.inputs = inputs
        self.config = config
        self.log = log
        self.threads = threads_allowed()
        self.scratch = config.out_dir / ".scratch"
        self.variants: list[Variant] = []
        self.skipped: list[Skipped] = []
        self._warned = False
        self._validation: tuple[list[list[int]], np.ndarray] | None = None
        # A parent's validation logits, computed once however many children it has.
        self._reference_logits: dict[str, np.ndarray] = {}
        self.tokenizer = load_tokenizer(_folder_variant(inputs.model_dir))
        self._pad_id = int(self.tokenizer.pad_token_id or 0)

    def run(self) -> CompressResult:
        methods = set(self.config.methods)
        baseline = self._baseline()
        self.variants.append(baseline)
        if methods & {"onnx", "int8-dynamic", "int8-static", "fp16"}:
            onnx = self._onnx(baseline, "onnx-fp32")
            if "onnx" in methods:
                self.variants.append(onnx)
            if "int8-dynamic" in methods:
                self.variants.append(self._int8_dynamic(onnx, baseline, "int8-dynamic"))
            if "int8-static" in methods:
                self.variants.append(self._int8_static(baseline, "int8-static"))
            if "fp16" in methods:
                self._fp16(onnx)
        for method in ("pruned", "distilled"):
            if method in methods:
                torch_variant = (
                    self._pruned(baseline) if method == "pruned" else self._distilled(baseline)
                )
                self.variants.append(torch_variant)
                onnx = self._onnx(torch_variant, f"{method}-onnx")
                self.variants += [
                    onnx,
                    self._int8_dynamic(onnx, torch_variant, f"{method}-int8"),
                ]
        shutil.rmtree(self.scratch, ignore_errors=True)
        return CompressResult(tuple(self.variants), tuple(self.skipped))

    # -- the variants -------------------------------------------------------------------------

    def _baseline(self) -> Variant:
        model = load_classifier(self.inputs.model_dir)
        return Variant(
            name="baseline",
            format="torch",
            precision="fp32",
            method="baseline",
            path=str(self.inputs.model_dir.resolve()),
            size_bytes=artifact_bytes(self.inputs.model_dir),
            parameter_count=sum(p.numel() for p in model.parameters()),
            recipe={
                "key": _digest(_model_fingerprint(self.inputs.model_dir)),
                "max_length": self.inputs.max_length,
                "split": self.inputs.split_origin,
            },
        )

    def _onnx(self, parent: Variant, name: str) -> Variant:
        recipe = {
            "opset": 17,
            "fusions": "onnxruntime.transformers bert",
            "max_length": parent.recipe["max_length"],
        }

        def build(folder: Path) -> dict[str, Any]:
            exported = self._exported(parent)
            heads, hidden = _heads_and_hidden(Path(parent.path))
            optimize_transformer(exported, folder / ONNX_FILE, num_heads=heads, hidden_size=hidden)
            _copy_model_files(Path(parent.path), folder)
            return self._check_against(parent, folder, max_diff=1e-3)

        return self._build(name, "onnx", "fp32", "onnx-export+fusions", parent, recipe, build)

    def _int8_dynamic(self, parent: Variant, source: Variant, name: str) -> Variant:
        """The fastest dynamic-INT8 recipe of ``parent`` (fused ONNX) within the budget; the
        unfused recipes quantize ``source``'s plain export (``_recipes``, ``_race``)."""
        cpu = read_cpu_features()
        self._note_cpu(cpu)
        recipes = dynamic_recipes(cpu)
        recipe = {
            "search": [r.record() for r in recipes],
            "searched_on": _cpu_key(cpu),
            "chosen_by": CHOICE_RULE,
            "accuracy_budget_pt": self.config.accuracy_budget_pt,
            "weights": "int8 symmetric",
            "activations": "uint8, quantized per batch at run time",
            "max_length": parent.recipe["max_length"],
        }

        def build(folder: Path) -> dict[str, Any]:
            work = self.scratch / f"{name}-recipes"
            shutil.rmtree(work, ignore_errors=True)
            plain = self._exported(source)
            candidates = {}
            for index, candidate in enumerate(recipes):
                out = work / str(index)
                out.mkdir(parents=True)
                build_dynamic(
                    candidate, fused=Path(parent.path) / ONNX_FILE, plain=plain, out=out / ONNX_FILE
                )
                candidates[candidate.name] = _folder_variant(out)
            result = self._race(parent, candidates, name)
            winner = next(r for r in recipes if r.name == result.winner)
            shutil.copy2(work / str(recipes.index(winner)) / ONNX_FILE, folder / ONNX_FILE)
            _copy_model_files(Path(parent.path), folder)
            return {
                "int8": winner.record(),
                "session": result.session,
                "recipe_search": result.record(),
                **self._check_against(parent, folder, logits=result.winner_logits),
            }

        return self._build(name, "onnx", "int8", "dynamic-int8", parent, recipe, build)

    def _race(self, parent: Variant, candidates: dict[str, Variant], name: str) -> RaceResult:
        """Measure ``candidates`` against ``parent`` on the validation rows; log the winner."""
        ids, labels = self._validation_rows()
        result = race(
            candidates,
            parent_predictions=self._parent_logits(parent).argmax(axis=1),
            token_ids=ids,
            labels=labels,
            pad_id=self._pad_id,
            threads=self.threads,
            budget_pt=self.config.accuracy_budget_pt,
            seed=self.config.seed,
            session_tries=SESSION_TRIES,
        )
        figures = ", ".join(
            f"{e.name} {e.timing.mean_ms:.2f} ms{_budget_mark(e)}"
            for e in sorted(result.entries, key=lambda e: e.timing.mean_ms)
        )
        kept = ", ".join(f"{k}={v}" for k, v in result.session.items()) or "defaults"
        budget = f"the {self.config.accuracy_budget_pt:g}-pt budget on {len(ids):,} validation rows"
        if result.is_within_budget:
            verdict = "wins"
        elif result.winning_entry.is_unresolved:
            verdict = (
                f"kept: no recipe is shown within {budget} (too few rows to resolve it) and "
                "none is shown over it; it is the fastest"
            )
        else:
            verdict = f"kept: every recipe is shown over {budget}; it is the least doubtful"
        self.log(f"{name}: {result.winner} {verdict} ({figures}); session: {kept}")
        return result

    def _note_cpu(self, cpu: CpuFeatures) -> None:
        settings = int8_settings(cpu)
        if settings.warning and not self._warned:
            self.log(f"note: {settings.warning}")
            self._warned = True

    def _int8_static(self, baseline: Variant, name: str) -> Variant:
        """The faster calibrated INT8 within the budget: ONNX Runtime's QDQ (with its
        accuracy-aware fallback) or NNCF on OpenVINO, measured side by side."""
        cpu = read_cpu_features()
        recipes = static_recipes(cpu, with_openvino=_has_openvino())
        c = self.config
        recipe = {
            "search": [r.record() for r in recipes],
            "searched_on": _cpu_key(cpu),
            "chosen_by": CHOICE_RULE,
            "calibration": c.calibration,
            "calibration_samples": c.calibration_samples,
            "accuracy_budget_pt": c.accuracy_budget_pt,
            "max_length": baseline.recipe["max_length"],
        }

        def build(folder: Path) -> dict[str, Any]:
            work = self.scratch / f"{name}-recipes"
            shutil.rmtree(work, ignore_errors=True)
            exported = self._exported(baseline)
            candidates: dict[str, Variant] = {}
            details: dict[str, dict[str, Any]] = {}
            for candidate in recipes:
                out = work / _folder_of(candidate)
                out.mkdir(parents=True)
                if candidate.runtime == "openvino":
                    build_openvino(exported, out, self._calibration_feeds())
                    details[candidate.name] = {"nncf": {"model_type": "TRANSFORMER"}}
                else:
                    details[candidate.name] = self._ort_static(exported, out, candidate)
                _copy_model_files(Path(baseline.path), out)
                candidates[candidate.name] = _folder_variant(out)
            result = self._race(baseline, candidates, name)
            openvino = next((r for r in recipes if r.runtime == "openvino"), None)
            if openvino is not None and not result.is_within_budget:
                # The budget is tight: NNCF's accuracy-aware variant keeps float what it must.
                careful = replace(openvino, accuracy_aware=True)
                out = work / _folder_of(careful)
                out.mkdir(parents=True)
                build_openvino(
                    exported, out, self._calibration_feeds(), validation=self._validation_feeds()
                )
                _copy_model_files(Path(baseline.path), out)
                recipes.append(careful)
                details[careful.name] = {
                    "nncf": {"model_type": "TRANSFORMER", "accuracy_aware": True}
                }
                candidates[careful.name] = _folder_variant(out)
                result = self._race(baseline, candidates, name)
            winner = next(r for r in recipes if r.name == result.winner)
            _copy_tree(work / _folder_of(winner), folder)
            return {
                **details[winner.name],
                "int8": winner.record(),
                "session": result.session,
                "recipe_search": result.record(),
                **self._check_against(baseline, folder, logits=result.winner_logits),
            }

        return self._build(name, "onnx", "int8", "static-int8", baseline, recipe, build)

    def _ort_static(self, exported: Path, out: Path, recipe: Int8Recipe) -> dict[str, Any]:
        """ONNX Runtime's calibrated QDQ of ``exported`` into ``out`` (``_static``)."""
        c = self.config
        _, labels = self._validation_rows()
        reference = float(np.mean(self._predict_path(exported) == labels))
        result = quantize_static_int8(
            exported,
            out / ONNX_FILE,
            calibration=self._calibration_feeds(),
            settings=Int8Settings(recipe.per_channel, recipe.reduce_range, recipe.name),
            evaluate=lambda path: float(np.mean(self._predict_path(path) == labels)),
            reference_accuracy=reference,
            budget_pt=c.accuracy_budget_pt,
            method=c.calibration,
            work_dir=self.scratch / "static",
        )
        self.log(
            f"{recipe.name}: validation accuracy {result.accuracy:.2%} vs {reference:.2%} fp32; "
            f"{len(result.float_nodes)} nodes kept in float"
        )
        return result.recipe

    def _fp16(self, parent: Variant) -> None:
        torch = require("torch", extra="train", purpose="checking for a GPU")
        if not torch.cuda.is_available():
            self.skipped.append(
                Skipped(
                    "fp16",
                    "no CUDA GPU here: CPU kernels gain nothing from FP16; run mlcost compress "
                    "--methods fp16 on a GPU machine, or import a profile measured there",
                )
            )
            return
        recipe = {"keep_io_types": True, "max_length": parent.recipe["max_length"]}

        def build(folder: Path) -> dict[str, Any]:
            onnx_model = require(
                "onnxruntime.transformers.onnx_model", extra="compress", purpose="FP16"
            )
            onnx = require("onnx", extra="compress", purpose="FP16")
            model = onnx_model.OnnxModel(onnx.load(str(Path(parent.path) / ONNX_FILE)))
            model.convert_float_to_float16(keep_io_types=True)
            model.save_model_to_file(str(folder / ONNX_FILE))
            _copy_model_files(Path(parent.path), folder)
            return self._check_against(parent, folder, device="cuda")

        self.variants.append(self._build("fp16", "onnx", "fp16", "fp16", parent, recipe, build))

    def _pruned(self, baseline: Variant) -> Variant:
        c = self.config
        recipe = {
            "heads_keep": c.prune.heads_keep,
            "ffn_keep": c.prune.ffn_keep,
            "layers_drop": c.prune.layers_drop,
            "fine_tune": _distill_recipe(c.distill, c.prune_train_samples),
            "max_length": baseline.recipe["max_length"],
        }

        def build(folder: Path) -> dict[str, Any]:
            pruned_dir = self.scratch / "pruned-init"
            shutil.rmtree(pruned_dir, ignore_errors=True)
            prune_recipe = prune_classifier(
                Path(baseline.path), pruned_dir, self._importance_batches(), c.prune
            )
            tuned = self._distill_into(baseline, pruned_dir, "pruned", c.prune_train_samples)
            _copy_tree(tuned, folder)
            return {"pruning": prune_recipe, **tuned_info(tuned)}

        return self._build("pruned", "torch", "fp32", "pruned+distilled", baseline, recipe, build)

    def _distilled(self, baseline: Variant) -> Variant:
        c = self.config
        wanted = c.distill.student_layers or max(1, self.inputs.num_layers // 2)
        keep = student_layers(self.inputs.num_layers, wanted)
        recipe = {
            "student_layers_from_teacher": keep,
            "fine_tune": _distill_recipe(c.distill, c.distill.train_samples),
            "max_length": baseline.recipe["max_length"],
        }

        def build(folder: Path) -> dict[str, Any]:
            init = self.scratch / "student-init"
            make_student(Path(baseline.path), init, keep)
            tuned = self._distill_into(baseline, init, "distilled", c.distill.train_samples)
            _copy_tree(tuned, folder)
            return tuned_info(tuned)

        return self._build("distilled", "torch", "fp32", "distilled", baseline, recipe, build)

    # -- steps shared by the variants ---------------------------------------------------------

    def _distill_into(
        self, teacher: Variant, student_dir: Path, name: str, samples: int | None
    ) -> Path:
        """Fine-tune ``student_dir`` against the teacher with the train engine; returns the model folder."""
        d = self.config.distill
        run_dir = self.scratch / f"{name}-run"
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True)
        write_text_atomic(run_dir / "split.json", self.inputs.split.to_json())
        train_config = TrainConfig(
            out_dir=run_dir,
            model=str(student_dir),
            data=self.inputs.data_spec,
            text_column=self.inputs.columns[0],
            label_column=self.inputs.columns[1],
            encoding=self.inputs.columns[2],
            epochs=d.epochs,
            learning_rate=d.learning_rate,
            max_length=self.inputs.max_length,
            max_train_samples=samples,
            freeze_embeddings=True,
            seed=self.config.seed,
        )
        started = time.perf_counter()
        result = run_training(
            train_config,
            make_loss=distillation_from(
                Path(teacher.path), temperature=d.temperature, alpha=d.alpha
            ),
        )
        self.log(
            f"{name}: distilled {result.steps} steps in {time.perf_counter() - started:.0f} s; "
            f"validation accuracy {result.accuracy_validation:.2%}"
        )
        (result.model_dir / "distill.json").write_text(
            json.dumps(
                {
                    "steps": result.steps,
                    "train_samples": result.train_samples,
                    "accuracy_validation": result.accuracy_validation,
                    "wall_s": result.wall_s,
                }
            )
        )
        return result.model_dir

    def _exported(self, parent: Variant) -> Path:
        """Plain ONNX export of a torch variant (verified against PyTorch), cached per run."""
        path = self.scratch / f"{parent.name}-export" / ONNX_FILE
        if not path.is_file():
            diff = export_onnx(Path(parent.path), path)
            self.log(f"{parent.name}: exported to ONNX, max |logit diff| vs PyTorch {diff:.1e}")
        return path

    def _build(
        self,
        name: str,
        format: Literal["torch", "onnx", "openvino"],
        precision: Literal["fp32", "fp16", "int8"],
        method: str,
        parent: Variant,
        recipe: dict[str, Any],
        build: Callable[[Path], dict[str, Any]],
    ) -> Variant:
        """Reuse the variant when its recipe and parent are unchanged, else build it atomically."""
        key = _digest({"recipe": recipe, "parent": parent.recipe.get("key"), "method": method})
        final = self.config.out_dir / name
        cached = _read_variant(final)
        if cached is not None and cached.recipe.get("key") == key:
            self.log(f"{name}: cached")
            return cached
        self.log(f"{name}: building")
        started = time.perf_counter()
        with staged_folder(final) as folder:
            details = build(folder)
            if format != "torch":
                format = _folder_variant(folder).format
            # The new variant's validation logits (if checked) serve its own children: key them by
            # the path it has once in place, so int8 does not predict its ONNX parent again.
            logits = self._reference_logits.pop(str(folder), None)
            size = artifact_bytes(folder)
            variant = Variant(
                name=name,
                format=format,
                precision=precision,
                method=method,
                path=str(final.resolve()),
                size_bytes=size,
                parameter_count=_parameter_count(folder, parent),
                parent=parent.name,
                recipe={
                    **recipe,
                    **details,
                    "key": key,
                    "build_s": round(time.perf_counter() - started, 1),
                },
            )
            write_text_atomic(folder / VARIANT_FILE, json.dumps(to_jsonable(variant), indent=2))
        if logits is not None:
            self._reference_logits[variant.path] = logits
        return variant

    def _check_against(
        self,
        parent: Variant,
        folder: Path,
        *,
        max_diff: float | None = None,
        device: str = "cpu",
        logits: np.ndarray | None = None,
    ) -> dict[str, Any]:
        """Compare a new variant's outputs with its parent's on the validation rows
        (``logits``: the new variant's, where a race already computed them)."""
        ids, _ = self._validation_rows()
        child = self._logits(folder, device=device) if logits is None else logits
        reference = self._parent_logits(parent)
        if device == "cpu":
            self._reference_logits[str(folder)] = child  # re-keyed by _build once in place
        diff = float(np.abs(child - reference).max())
        agreement = float(np.mean(child.argmax(1) == reference.argmax(1)))
        if max_diff is not None and diff > max_diff:
            raise CompressError(
                f"{folder.name} differs from {parent.name} by {diff:.2e} on the validation rows "
                f"(> {max_diff:g}); report this model type as unsupported"
            )
        if agreement < MIN_AGREEMENT_WITH_PARENT:
            raise CompressError(
                f"{folder.name} agrees with {parent.name} on only {agreement:.1%} of validation rows; "
                "the conversion broke the model: try --methods without it"
            )
        return {"vs_parent": {"max_logit_diff": diff, "agreement": agreement, "rows": len(ids)}}

    def _validation_rows(self) -> tuple[list[list[int]], np.ndarray]:
        if self._validation is None:
            rows = self.inputs.split.validation
            ids = self._tokenize_rows(rows)
            labels = np.array([self.inputs.labels[i] for i in rows])
            self._validation = (ids, labels)
        return self._validation

    def _logits(self, folder: Path, *, device: str = "cpu") -> np.ndarray:
        ids, _ = self._validation_rows()
        session = open_session(_folder_variant(folder), threads=self.threads, device=device)
        return predict_logits(session, ids, self._pad_id)

    def _parent_logits(self, parent: Variant) -> np.ndarray:
        """``parent``'s validation logits, computed once however many children it has."""
        if parent.path not in self._reference_logits:
            self._reference_logits[parent.path] = self._logits(Path(parent.path))
        return self._reference_logits[parent.path]

    def _predict_path(self, onnx_file: Path) -> np.ndarray:
        predictions: np.ndarray = self._logits(onnx_file).argmax(axis=1)
        return predictions

    def _validation_feeds(self) -> tuple[list[dict[str, np.ndarray]], list[int], float]:
        """Single-row feeds of the validation split, its labels and the budget: what NNCF's
        accuracy-aware quantization checks against."""
        ids, labels = self._validation_rows()
        feeds = [
            dict(zip(("input_ids", "attention_mask"), pad([row], self._pad_id), strict=True))
            for row in ids
        ]
        return feeds, [int(y) for y in labels], self.config.accuracy_budget_pt

    def _calibration_feeds(self) -> list[dict[str, np.ndarray]]:
        """Single-row feeds from a seeded sample of the training split (real lengths)."""
        train = list(self.inputs.split.train)
        rows = random.Random(self.config.seed).sample(
            train, min(self.config.calibration_samples, len(train))
        )
        ids = self._tokenize_rows(rows)
        return [
            dict(zip(("input_ids", "attention_mask"), pad([row], self._pad_id), strict=True))
            for row in ids
        ]

    def _importance_batches(self) -> list[dict[str, Any]]:
        """Labelled batches from the training split for pruning's importance scores."""
        torch = require("torch", extra="train", purpose="pruning")
        train = list(self.inputs.split.train)
        rows = random.Random(self.config.seed).sample(train, min(512, len(train)))
        ids = self._tokenize_rows(rows)
        batches = []
        for start in range(0, len(rows), 32):
            input_ids, mask = pad(ids[start : start + 32], self._pad_id)
            labels = [self.inputs.labels[i] for i in rows[start : start + 32]]
            batches.append(
                {
                    "input_ids": torch.from_numpy(input_ids),
                    "attention_mask": torch.from_numpy(mask),
                    "labels": torch.tensor(labels),
                }
            )
        return batches

    def _tokenize_rows(self, rows: Sequence[int]) -> list[list[int]]:
        texts = [self.inputs.data.texts[i] for i in rows]
        return tokenize(self.tokenizer, texts, max_length=self.inputs.max_length)


def tuned_info(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "distill.json"
    info: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    return {"fine_tune_result": info}


def student_layers(teacher_layers: int, keep: int) -> list[int]:
    """Teacher layers a student of ``keep`` layers starts from: spread evenly, the last one kept."""
    if not 1 <= keep < teacher_layers:
        raise CompressError(
            f"a student needs 1 to {teacher_layers - 1} layers (the teacher has {teacher_layers}); "
            f"got --student-layers {keep}"
        )
    return [round((i + 1) * teacher_layers / keep) - 1 for i in range(keep)]


def make_student(teacher_dir: Path, out_dir: Path, layers: list[int]) -> None:
    """A student initialized from the teacher: embeddings, the chosen encoder layers and the head."""
    torch = require("torch", extra="train", purpose="distillation")
    model = load_classifier(teacher_dir)
    base = getattr(model, model.base_model_prefix)
    encoder = getattr(getattr(base, "encoder", None), "layer", None)
    if encoder is None:
        raise CompressError(
            "distillation works on BERT-style encoders only; use --methods without distilled"
        )
    base.encoder.layer = torch.nn.ModuleList([encoder[i] for i in layers])
    model.config.num_hidden_layers = len(layers)
    shutil.rmtree(out_dir, ignore_errors=True)
    model.save_pretrained(out_dir)
    load_tokenizer(_folder_variant(teacher_dir)).save_pretrained(out_dir)


def _folder_variant(path: Path) -> Variant:
    """A throwaway Variant for a folder (or ONNX file) being built, to load it through the runtime."""
    if (path / OPENVINO_FILE).is_file():
        return Variant(path.name, "openvino", "int8", "build", str(path), 0, 0)
    is_onnx = path.suffix == ".onnx" or (path / ONNX_FILE).is_file()
    return Variant(path.name, "onnx" if is_onnx else "torch", "fp32", "build", str(path), 0, 0)


def _cpu_key(cpu: CpuFeatures) -> str:
    """What a recipe search depends on: the CPU's model and the flags its kernels use."""
    return f"{cpu.model} [{' '.join(sorted(cpu.flags))}]"


def _folder_of(recipe: Int8Recipe) -> str:
    """The scratch folder a static recipe is built in."""
    return "openvino-careful" if recipe.accuracy_aware else recipe.runtime


def _has_openvino() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("openvino", "nncf"))


def _distill_recipe(d: DistillSettings, samples: int | None) -> dict[str, Any]:
    return {
        "loss": "alpha*T^2*KL(teacher||student) + (1-alpha)*CE",
        "temperature": d.temperature,
        "alpha": d.alpha,
        "epochs": d.epochs,
        "learning_rate": d.learning_rate,
        "train_samples": samples,
        "frozen": "embeddings",
    }


def _read_variant(folder: Path) -> Variant | None:
    path = folder / VARIANT_FILE
    if not path.is_file():
        return None
    try:
        return from_jsonable(Variant, json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def _copy_model_files(source: Path, folder: Path) -> None:
    """The tokenizer and config.json beside an ONNX file, so the folder serves on its own."""
    for item in source.iterdir():
        if item.is_file() and (
            item.name.startswith(("tokenizer", "special_tokens", "vocab"))
            or item.name == "config.json"
        ):
            shutil.copy2(item, folder / item.name)


def _copy_tree(source: Path, folder: Path) -> None:
    for item in source.iterdir():
        if item.is_file():
            shutil.copy2(item, folder / item.name)


def _heads_and_hidden(model_dir: Path) -> tuple[int, int]:
    config = json.loads((model_dir / "config.json").read_text())
    return int(config.get("num_attention_heads", 0)), int(config.get("hidden_size", 0))


def _parameter_count(folder: Path, parent: Variant) -> int:
    if (folder / ONNX_FILE).is_file() or (folder / OPENVINO_FILE).is_file():
        return parent.parameter_count
    return sum(p.numel() for p in load_classifier(folder).parameters())


def _model_fingerprint(model_dir: Path) -> list[Any]:
    return sorted(
        (f.name, f.stat().st_size, int(f.stat().st_mtime))
        for f in model_dir.iterdir()
        if f.is_file()
    )


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _budget_mark(entry: Entry) -> str:
    if entry.is_within_budget:
        return ""
    return " (unresolved)" if entry.is_unresolved else " (over budget)"
