"""Tiny random Qwen3-ASR and Qwen3-ForcedAligner models in the transformers-native layout.

The weights are random (seeded) and small; the tokenizer is a small byte-level BPE trained on
the test transcripts, carrying the special tokens the real Qwen3-ASR tokenizer has
(``<|im_start|>``, ``<|audio_pad|>``, ``<asr_text>``, ``<timestamp>``, ...), so prompts,
audio placeholders and output parsing go through the real transformers processor code.
``resolve_model(str(path))`` / ``load_model(str(path))`` accept the folder (source "local").
"""

from __future__ import annotations

from pathlib import Path

from voxtune.engine.families.qwen3_asr.layout import CHAT_TEMPLATES

SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|audio_start|>",
    "<|audio_end|>",
    "<|audio_pad|>",
)
# Added but not "special": decoding with skip_special_tokens keeps them, as the real one does.
ADDED_TOKENS = ("<asr_text>", "<timestamp>")
TRAINING_TEXT = (
    "language English language German language French language Spanish language Portuguese "
    "language None system user assistant the quick brown fox jumps over the lazy dog "
    "press one followed by the pound key please hold while we connect your call "
    "der die das und ist le la les et est el los las y es o a os as e"
)


def build_tokenizer(directory: Path, vocab_size: int = 400):  # type: ignore[no-untyped-def]
    """A byte-level BPE with Qwen3-ASR's special tokens, saved into ``directory``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    core.train_from_iterator([TRAINING_TEXT] * 4, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens={
            "audio_token": "<|audio_pad|>",
            "audio_bos_token": "<|audio_start|>",
            "audio_eos_token": "<|audio_end|>",
        },
    )
    tokenizer.add_tokens(list(ADDED_TOKENS))
    tokenizer.save_pretrained(str(directory))
    return tokenizer


def _config(tokenizer, *, hidden: int, layers: int, aligner: bool, seed: int):  # type: ignore[no-untyped-def]
    from transformers import Qwen3ASRConfig

    ids = tokenizer.convert_tokens_to_ids
    extra = {"num_labels": 64, "architectures": ["Qwen3ASRForTokenClassification"]}
    return Qwen3ASRConfig(
        audio_config={
            "num_mel_bins": 128,
            "encoder_layers": layers,
            "encoder_attention_heads": 4,
            "encoder_ffn_dim": 2 * hidden,
            "d_model": hidden,
            "output_dim": hidden,
            "n_window": 50,
            "n_window_infer": 400,
            "downsample_hidden_size": 16,
        },
        text_config={
            "model_type": "qwen3",
            "vocab_size": len(tokenizer),
            "hidden_size": hidden,
            "intermediate_size": 2 * hidden,
            "num_hidden_layers": layers,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": hidden // 4,
            "max_position_embeddings": 4096,
            "tie_word_embeddings": True,
        },
        audio_token_id=ids("<|audio_pad|>"),
        timestamp_token_id=ids("<timestamp>"),
        pad_token_id=ids("<|endoftext|>"),
        eos_token_id=[ids("<|endoftext|>"), ids("<|im_end|>")],
        **(extra if aligner else {"architectures": ["Qwen3ASRForConditionalGeneration"]}),
    )


def _prefer_words(model, tokenizer) -> None:  # type: ignore[no-untyped-def]
    """Zero the output rows of every token but whole words (" the", " press"): their logits
    are then exactly 0, below the best of the random ones, so greedy decoding writes a word
    per token and never stops early, instead of looping on a newline or a digit, and every
    structural check has several words to look at."""
    import torch

    def whole_word(i: int) -> bool:
        text = tokenizer.decode([i])
        return text[:1] == " " and text[1:].isalpha()

    ids = [i for i in range(len(tokenizer)) if not whole_word(i)]
    with torch.no_grad():
        model.get_output_embeddings().weight[ids] = 0.0


def build_tiny_qwen3_asr(
    directory: Path, *, hidden: int = 64, layers: int = 2, aligner: bool = False, seed: int = 0
) -> Path:
    """Save a random Qwen3-ASR (or, with ``aligner``, a ForcedAligner) into ``directory``."""
    import torch
    from transformers import (
        Qwen3ASRForConditionalGeneration,
        Qwen3ASRForTokenClassification,
    )

    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(directory)
    config = _config(tokenizer, hidden=hidden, layers=layers, aligner=aligner, seed=seed)
    torch.manual_seed(seed)
    model_class = Qwen3ASRForTokenClassification if aligner else Qwen3ASRForConditionalGeneration
    model = model_class(config).eval()
    if not aligner:
        _prefer_words(model, tokenizer)
    return save_qwen3(model, tokenizer, directory, aligner=aligner)


def save_qwen3(model, tokenizer, directory: Path, *, aligner: bool = False) -> Path:  # type: ignore[no-untyped-def]
    """Save ``model`` with a processor (and, for an ASR model, greedy generation settings)
    into ``directory`` in the transformers-native layout."""
    from transformers import GenerationConfig, Qwen3ASRFeatureExtractor, Qwen3ASRProcessor

    if not aligner:
        model.generation_config = GenerationConfig(
            eos_token_id=model.config.eos_token_id,
            pad_token_id=model.config.pad_token_id,
            do_sample=False,
            max_new_tokens=64,
        )
    model.save_pretrained(str(directory))
    processor = Qwen3ASRProcessor(
        feature_extractor=Qwen3ASRFeatureExtractor(),
        tokenizer=tokenizer,
        chat_template=CHAT_TEMPLATES["aligner" if aligner else "asr"],
    )
    processor.save_pretrained(str(directory))
    return directory


def build_scripted_qwen3_asr(
    directory: Path,
    text: str = " the quick brown fox jumps over lazy dog",
    language: str = "English",
) -> Path:
    """A tiny Qwen3-ASR that answers ``language {language}<asr_text>{text}`` and stops, whatever
    it hears: a bigram model. Every layer's output projections are zero, so the last hidden
    state is the (normalised) embedding of the last token, and the untied output matrix maps
    each token of that answer (and the prompt's last token) to the next one. Its tokens must
    all differ; any other token is followed by whatever the random embeddings favour."""
    import itertools

    import torch
    from transformers import AutoProcessor, Qwen3ASRForConditionalGeneration

    build_tiny_qwen3_asr(directory)
    processor = AutoProcessor.from_pretrained(str(directory))
    tokenizer = processor.tokenizer
    silence = [torch.zeros(16000).numpy()]
    prompt = processor.apply_transcription_request(audio=silence)["input_ids"][0].tolist()
    answer = tokenizer.encode(f"language {language}<asr_text>{text}", add_special_tokens=False)
    chain = [prompt[-1], *answer]
    chain.append(tokenizer.convert_tokens_to_ids("<|im_end|>"))
    if len(set(chain[:-1])) != len(chain) - 1:
        raise ValueError(f"the answer's tokens repeat: {tokenizer.convert_ids_to_tokens(chain)}")
    model = Qwen3ASRForConditionalGeneration.from_pretrained(str(directory)).eval()
    model.config.tie_word_embeddings = False
    model.config.text_config.tie_word_embeddings = False
    embeddings = model.get_input_embeddings().weight.detach()
    # The tiny model's tied output rows of non-word tokens were zeroed, and so were their
    # embeddings: give those tokens (untied now) embeddings of their own again.
    unused = embeddings.norm(dim=1) == 0
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        embeddings[unused] = torch.randn(
            int(unused.sum()), embeddings.shape[1], generator=generator
        )
    head = torch.zeros_like(embeddings)
    # |final hidden| = sqrt(hidden size) after RMSNorm: the chosen token's logit is about 10.
    scale = 10.0 / embeddings.shape[1] ** 0.5
    for token, following in itertools.pairwise(chain):
        head[following] = scale * embeddings[token] / embeddings[token].norm()
    with torch.no_grad():
        for layer in model.model.language_model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        model.lm_head.weight = torch.nn.Parameter(head)
    model.save_pretrained(str(directory))
    return directory
