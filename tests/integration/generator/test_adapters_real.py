"""LoRA adapters through the real SmolLM2: training, serving, hot-swap, rollback, faults."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest

from rsi_rag import RAG
from rsi_rag.config import RAGConfig
from rsi_rag.errors import ConfigError, ModelError, ValidationError
from rsi_rag.generate import HFGenerator, build_messages
from rsi_rag.generate.adapters import ADAPTER_META_FILE, AdapterManager
from rsi_rag.loop.generator_cycle import promote_generator, rollback_generator
from rsi_rag.loop.train_generator import (
    LoRATrainingConfig,
    TrainResult,
    encode_example,
    train_adapter,
)
from rsi_rag.testing import FakeEmbedder
from rsi_rag.types import Hit, SourceDocument

from .conftest import planet_examples

pytestmark = pytest.mark.integration

QUESTION = "What colour is the sky on planet Zog-9?"
DOC = "On planet Zog-9 the sky is orange."


def _msgs() -> list[dict[str, str]]:
    return build_messages(QUESTION, [Hit(1, 1, "", 0.0, DOC), Hit(2, 2, "", 0.0, "Cats sleep.")])


@pytest.fixture
def rag(tmp_path: Path, real_generator: HFGenerator, tiny_adapter: TrainResult) -> RAG:
    cfg = RAGConfig(max_new_tokens=8, abstain_threshold=-1.0)
    r = RAG(tmp_path / "data", cfg, embedder=FakeEmbedder(), generator=real_generator)
    r.ingest_documents([SourceDocument("zog.txt", DOC)], "c")
    col = r.collection("c")
    r.registry.register("gen-v1", "generator", tiny_adapter.adapter_path, collection_id=col.id)
    yield r
    r.close()


def test_loss_is_on_answer_tokens_of_the_serving_prompt(real_generator: HFGenerator) -> None:
    tok = real_generator.tokenizer
    ex = planet_examples(1)[0]
    ids, labels = encode_example(tok, ex, 512)  # type: ignore[misc]
    prompt = tok.apply_chat_template(
        build_messages(ex.question, [Hit(i, 0, "", 0.0, t) for i, t in enumerate(ex.contexts)]),
        add_generation_prompt=True,
        tokenize=True,
        return_dict=True,
    )["input_ids"]
    assert ids[: len(prompt)] == list(prompt)
    assert all(t == -100 for t in labels[: len(prompt)])
    answer = tok.decode([t for t in labels if t != -100], skip_special_tokens=True)
    assert answer.strip() == ex.answer
    assert encode_example(tok, ex, 40) is None  # cannot fit even one passage


def test_training_learns_and_stays_within_memory(tiny_adapter: TrainResult) -> None:
    assert tiny_adapter.steps == 4 and tiny_adapter.examples == 6
    assert tiny_adapter.losses[-1] < tiny_adapter.losses[0]
    assert tiny_adapter.peak_rss_mb < 6 * 1024
    meta = json.loads((Path(tiny_adapter.adapter_path) / ADAPTER_META_FILE).read_text())
    assert meta["base_fingerprint"] == tiny_adapter.fingerprint


def test_adapter_serves_without_changing_the_base(rag: RAG, real_generator: HFGenerator) -> None:
    base_before = real_generator.generate(_msgs(), 12)
    promote_generator(rag, "c", "gen-v1")
    assert rag.collection("c").generator_version == "gen-v1"
    adapted = rag.generator_for(rag.collection("c")).generate(_msgs(), 12)
    assert adapted.startswith("orange") and adapted != base_before
    assert real_generator.generate(_msgs(), 12) == base_before
    ans = rag.ask(QUESTION, "c")
    assert ans.model_versions["generator"] == "gen-v1"
    assert "orange" in ans.text.lower()
    assert rollback_generator(rag, "c") == "base"
    assert rag.collection("c").generator_version == "base"
    assert rag.registry.get("gen-v1").status == "retired"


def test_hot_swap_does_not_fail_requests_in_flight(rag: RAG) -> None:
    errors: list[BaseException] = []
    answers: list[str] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                answers.append(rag.ask(QUESTION, "c").model_versions["generator"])
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=client) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for _ in range(2):
            promote_generator(rag, "c", "gen-v1")
            rollback_generator(rag, "c", "base")
        promote_generator(rag, "c", "gen-v1")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors
    assert answers and set(answers) <= {"base", "gen-v1"}
    actions = [a["action"] for a in rag.catalog.audit_log(20)]
    assert actions.count("generator.rollback") == 2


def test_corrupt_and_foreign_adapters_are_refused_while_the_champion_serves(
    rag: RAG, tiny_adapter: TrainResult, tmp_path: Path
) -> None:
    promote_generator(rag, "c", "gen-v1")
    col = rag.collection("c")
    corrupt = tmp_path / "corrupt"
    shutil.copytree(tiny_adapter.adapter_path, corrupt)
    (corrupt / "adapter_model.safetensors").write_bytes(b"\x00garbage")
    rag.registry.register("gen-bad", "generator", str(corrupt), collection_id=col.id)
    with pytest.raises(ModelError, match="corrupt"):
        promote_generator(rag, "c", "gen-bad")

    foreign = tmp_path / "foreign"
    shutil.copytree(tiny_adapter.adapter_path, foreign)
    meta = json.loads((foreign / ADAPTER_META_FILE).read_text())
    meta["base_fingerprint"] = "0123456789abcdef"
    (foreign / ADAPTER_META_FILE).write_text(json.dumps(meta))
    rag.registry.register("gen-foreign", "generator", str(foreign), collection_id=col.id)
    with pytest.raises(ModelError, match="not over the served base model"):
        promote_generator(rag, "c", "gen-foreign")

    # An adapter of a differently shaped model (no metadata): peft's shape check refuses it.
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    tiny = LlamaForCausalLM(
        LlamaConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=30,
            num_attention_heads=4,
            num_key_value_heads=4,
            vocab_size=49152,
        )
    )
    other = tmp_path / "other"
    get_peft_model(tiny, LoraConfig(r=8, target_modules=["q_proj", "v_proj"])).save_pretrained(
        str(other)
    )
    rag.registry.register("gen-other", "generator", str(other), collection_id=col.id)
    with pytest.raises(ModelError, match="could not load adapter"):
        promote_generator(rag, "c", "gen-other")

    assert rag.collection("c").generator_version == "gen-v1"
    assert "orange" in rag.ask(QUESTION, "c").text.lower()
    with pytest.raises(ValidationError, match="context window"):
        rag.generator_for(rag.collection("c")).generate(
            [{"role": "user", "content": "word " * 9000}], 4
        )
    assert "orange" in rag.ask(QUESTION, "c").text.lower()


def test_merged_export_answers_like_the_adapter(
    rag: RAG, real_generator: HFGenerator, tiny_adapter: TrainResult, tmp_path: Path
) -> None:
    mgr = AdapterManager.shared(real_generator)
    mgr.load("gen-v1", tiny_adapter.adapter_path)
    adapted = mgr.generator("gen-v1").generate(_msgs(), 8)
    out = mgr.export_merged("gen-v1", tiny_adapter.adapter_path, tmp_path / "merged")
    assert (out / "config.json").exists() and not (out / "adapter_config.json").exists()
    from transformers import AutoModelForCausalLM

    merged = AutoModelForCausalLM.from_pretrained(str(out))
    import torch

    ids = real_generator.encode_chat(_msgs())
    with torch.inference_mode():
        gen = merged.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=8,
            do_sample=False,
            repetition_penalty=1.1,
            pad_token_id=real_generator.tokenizer.pad_token_id,
        )
    text = real_generator.tokenizer.decode(gen[0, ids.shape[1] :], skip_special_tokens=True)
    assert text == adapted


def test_training_resumes_from_its_last_checkpoint(tmp_path: Path) -> None:
    cfg = LoRATrainingConfig(
        max_steps=3, batch_size=2, grad_accum=1, learning_rate=5e-3, max_length=160, save_every=1
    )

    def crash(step: int, loss: float) -> None:
        if step == 2:
            raise KeyboardInterrupt("simulated crash")

    with pytest.raises(KeyboardInterrupt):
        train_adapter(planet_examples(4), tmp_path, cfg, progress=False, on_step=crash)
    assert (tmp_path / "checkpoint" / "state.json").exists()
    assert not (tmp_path / "adapter").exists()  # no half-finished adapter to serve
    done = train_adapter(planet_examples(4), tmp_path, cfg, progress=False)
    assert done.resumed_from_step == 1 and done.steps == 3 and len(done.losses) == 3
    assert (tmp_path / "adapter" / "adapter_model.safetensors").exists()
    assert not (tmp_path / "checkpoint").exists()


def test_bf16_adapter_training_runs_in_bfloat16_and_saves_float32(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    from rsi_rag.embed.precision import native_bf16

    if not native_bf16("cpu"):
        pytest.skip("this CPU has no native bfloat16 (AMX or AVX512-BF16)")
    cfg = LoRATrainingConfig(
        max_steps=2, batch_size=3, grad_accum=1, learning_rate=5e-3, max_length=160, save_every=0
    )
    fp32 = train_adapter(planet_examples(), tmp_path / "a", cfg, progress=False, precision="fp32")
    bf16 = train_adapter(planet_examples(), tmp_path / "b", cfg, progress=False, precision="bf16")
    assert (fp32.precision, bf16.precision) == ("fp32", "bf16")
    # The same seed and data: the losses agree to bf16's precision but are not identical,
    # so the autocast really ran.
    for a, b in zip(fp32.losses, bf16.losses, strict=True):
        assert a != b and abs(a - b) / a < 0.05, (fp32.losses, bf16.losses)
    weights = load_file(str(Path(bf16.adapter_path) / "adapter_model.safetensors"))
    assert weights and all(t.dtype == torch.float32 for t in weights.values())
    meta = json.loads((Path(bf16.adapter_path) / ADAPTER_META_FILE).read_text())
    assert meta["precision"] == "bf16"


def test_first_loss_is_the_base_models_answer_loss(
    tmp_path: Path, real_generator: HFGenerator
) -> None:
    """Logits are computed only from the first answer token on; the loss must not change.

    A fresh adapter adds nothing (LoRA's B starts at zero), so the first step's loss over
    one micro-batch of every example is the base model's mean answer-token cross-entropy,
    computed here over the full sequence.
    """
    import torch

    examples = planet_examples(4)
    cfg = LoRATrainingConfig(
        max_steps=1, batch_size=4, grad_accum=1, max_length=160, save_every=0, dropout=0.0
    )
    got = train_adapter(examples, tmp_path, cfg, progress=False, precision="fp32").losses[0]
    tok, model = real_generator.tokenizer, real_generator.model
    total, count = 0.0, 0
    with torch.no_grad():
        for ex in examples:
            ids, labels = encode_example(tok, ex, 160)  # type: ignore[misc]
            logits = model(input_ids=torch.tensor([ids])).logits[0, :-1].float()
            target = torch.tensor(labels[1:])
            ce = torch.nn.functional.cross_entropy(logits, target, reduction="sum")
            total, count = total + float(ce), count + int((target != -100).sum())
    assert abs(got - total / count) < 1e-3 * (total / count), (got, total / count)


def test_top_layers_adapts_only_the_last_blocks(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    cfg = LoRATrainingConfig(
        max_steps=4,
        batch_size=3,
        grad_accum=1,
        learning_rate=5e-3,
        max_length=160,
        save_every=0,
        top_layers=2,
    )
    done = train_adapter(planet_examples(), tmp_path, cfg, progress=False)
    weights = load_file(str(Path(done.adapter_path) / "adapter_model.safetensors"))
    blocks = {int(k.split(".layers.")[1].split(".")[0]) for k in weights}
    assert blocks == {28, 29}  # SmolLM2-135M has 30 blocks
    assert done.losses[-1] < done.losses[0]
    assert done.config["top_layers"] == 2
    with pytest.raises(ConfigError, match="top_layers=31"):
        train_adapter(
            planet_examples(), tmp_path / "x", LoRATrainingConfig(top_layers=31), progress=False
        )
