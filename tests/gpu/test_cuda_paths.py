"""The CUDA code paths: embedding, generation, adapter and retriever training on a GPU.

Tiny randomly initialised models built here (a 2-layer BERT and a 2-layer Llama with
word-level tokenizers) exercise the device handling without any model download; each
result on the GPU is checked against the same computation on the CPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

TEXTS = [
    "Payroll pays salaried staff on the last Friday of each month.",
    "Badge access opens the office doors and logs every entry.",
    "Expense reports need scanned receipts and a manager approval.",
    "Database backups run every night and are copied to another region.",
    "Vacation requests are approved by the team lead in the calendar tool.",
    "Meeting rooms are booked in the workplace app.",
    "When is payroll paid?",
    "Who approves vacation requests?",
    "How long are snapshots kept?",
    "The answer is the last Friday of each month.",
]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }} {{ m['content'] }}<|im_end|> "
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant {% endif %}"
)


def _word_tokenizer(special: list[str], **roles: str) -> Any:
    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel
    from tokenizers.trainers import WordLevelTrainer
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(WordLevel(unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Whitespace(), pre_tokenizers.Punctuation()]
    )
    words = [*TEXTS, "system user assistant passage question answer not found in the documents"]
    tok.train_from_iterator(words, WordLevelTrainer(special_tokens=["[UNK]", *special]))
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", **roles)


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> str:
    from sentence_transformers import SentenceTransformer
    from tokenizers.processors import TemplateProcessing
    from transformers import BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny-bert")
    tok = _word_tokenizer(
        ["[PAD]", "[CLS]", "[SEP]", "[MASK]"],
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
    cls, sep = tok.convert_tokens_to_ids(["[CLS]", "[SEP]"])
    tok.backend_tokenizer.post_processor = TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(folder / "hf")
    tok.save_pretrained(folder / "hf")
    SentenceTransformer(str(folder / "hf"), device="cpu").save(str(folder / "st"))
    return str(folder / "st")


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> str:
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("tiny-llama")
    tok = _word_tokenizer(
        ["<pad>", "<|im_start|>", "<|im_end|>"], pad_token="<pad>", eos_token="<|im_end|>"
    )
    tok.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        bos_token_id=tok.eos_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)


def test_device_defaults_to_the_gpu() -> None:
    from rsi_rag.embed.sentence_transformer import resolve_device

    assert resolve_device(None) == "cuda"
    assert resolve_device("cpu") == "cpu"


def test_embedder_on_gpu_matches_cpu(tiny_encoder: str) -> None:
    import numpy as np

    from rsi_rag.embed.sentence_transformer import SentenceTransformerEmbedder

    gpu = SentenceTransformerEmbedder(tiny_encoder)
    cpu = SentenceTransformerEmbedder(tiny_encoder, device="cpu")
    assert str(gpu.model.device).startswith("cuda")
    a, b = gpu.encode(TEXTS), cpu.encode(TEXTS)
    assert a.shape == b.shape == (len(TEXTS), 32)
    np.testing.assert_allclose(a, b, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)


def test_generator_streams_on_gpu(tiny_lm: str) -> None:
    from rsi_rag.generate.hf import HFGenerator

    gen = HFGenerator(tiny_lm)
    assert gen.model.device.type == "cuda"
    messages = [{"role": "user", "content": "When is payroll paid?"}]
    streamed = "".join(gen.stream(messages, max_new_tokens=8))
    assert streamed.strip()
    assert gen.count_tokens("When is payroll paid?") > 0


def test_adapter_trains_on_gpu_and_serves_on_cpu(tiny_lm: str, tmp_path: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from rsi_rag.loop.generator_data import GenExample
    from rsi_rag.loop.train_generator import LoRATrainingConfig, train_adapter

    examples = [
        GenExample(
            question="When is payroll paid?",
            answer="The last Friday of each month.",
            contexts=(TEXTS[0],),
            provenance="user_correction",
        )
    ] * 8
    cfg = LoRATrainingConfig(max_steps=6, batch_size=4, grad_accum=1, learning_rate=5e-3)
    result = train_adapter(examples, tmp_path / "run", cfg, base=tiny_lm, progress=False)
    assert result.device == "cuda"
    assert result.peak_gpu_mb > 0
    assert result.steps == 6 and all(loss == loss for loss in result.losses)
    assert result.losses[-1] < result.losses[0]  # it learns the one answer
    # The adapter saved from the GPU loads on a CPU base.
    base = AutoModelForCausalLM.from_pretrained(tiny_lm)
    model = PeftModel.from_pretrained(base, result.adapter_path)
    assert next(model.parameters()).device.type == "cpu"


def test_retriever_trains_on_gpu(tiny_encoder: str, tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    from rsi_rag.loop.config import LoopConfig
    from rsi_rag.loop.train_retriever import TrainPair, train_retriever

    pairs = [TrainPair(q, p) for q, p in zip(TEXTS[6:9], TEXTS[0:5:2], strict=True)] * 4
    result = train_retriever(
        tiny_encoder,
        pairs,
        TEXTS[:6],
        tmp_path / "model",
        LoopConfig(batch_size=4, learning_rate=1e-3, negative_range=(0, 3)),
    )
    assert result.steps > 0
    trained = SentenceTransformer(str(tmp_path / "model"), device="cpu")
    before = SentenceTransformer(tiny_encoder, device="cpu")
    q = "When is payroll paid?"
    assert not torch.allclose(torch.tensor(trained.encode([q])), torch.tensor(before.encode([q])))
