"""Qwen3-ASR's side of a tune: chat prompts with audio slots, answers as labels.

The model reads the prompt ``apply_transcription_request`` builds (system, the audio as
``<|audio_pad|>`` slots, ``<|im_start|>assistant\\n``) and learns to answer
``language English<asr_text>TEXT<|im_end|>``: only the answer tokens are targets, everything
else is -100. Batches are right-padded (training needs no generation prompt at the end).
With the encoder frozen, each clip's projected audio embeddings are computed once and
scattered into the slots every step. Evaluation decodes each clip whole and greedily with the
prompt ``voxtune transcribe --language`` builds (the answer's header given, text follows).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import torch

from voxtune.engine.errors import VoxtuneError
from voxtune.engine.tune.examples import ENCODE_BATCH, Example, language_batches
from voxtune.engine.tune.validation import SAMPLE_RATE, CheckedRow
from voxtune.kernels.dispatch import chunked_loss_head, vocabulary_loss

if TYPE_CHECKING:
    from voxtune.engine.models import LoadedModel

ASR_TEXT = "<asr_text>"
MAX_ANSWER_TOKENS = 448  # the transcriber stops at 512 new tokens; leave room for the header
EVAL_BATCH = 8
# As the transcriber: generous for speech, so a clip is never cut short; real models stop at
# the end of the text long before, random ones run to the limit.
TOKENS_PER_SECOND = 8


class Qwen3Family:
    # The audio encoder and its projector into the text model's space are "the encoder".
    part_prefixes: ClassVar[dict[str, tuple[str, ...]]] = {
        "encoder": ("audio_tower.", "multi_modal_projector."),
        "decoder": ("language_model.",),
    }
    # Audio encoder layers: q/k/v/out_proj, fc1/fc2; Qwen3 text layers: q/k/v/o_proj and the
    # gated MLP. Restricting to the training part picks the right ones of each.
    lora_targets: ClassVar[dict[str, tuple[str, ...]]] = {
        "attention": ("q_proj", "k_proj", "v_proj", "out_proj", "o_proj"),
        "attention+mlp": (
            "q_proj", "k_proj", "v_proj", "out_proj", "o_proj",
            "fc1", "fc2", "gate_proj", "up_proj", "down_proj",
        ),
    }  # fmt: skip

    def __init__(self, loaded: LoadedModel) -> None:
        from transformers.models.qwen3_asr.processing_qwen3_asr import LANGUAGE_CODE_TO_NAME

        self.loaded = loaded
        self.processor = loaded.processor
        self.tokenizer = loaded.processor.tokenizer
        self.end_id = self.tokenizer.convert_tokens_to_ids("<|im_end|>")
        self.pad_id = self.tokenizer.pad_token_id
        self.audio_id = loaded.model.config.audio_token_id
        self.names = dict(LANGUAGE_CODE_TO_NAME)
        self.codes = {name.lower(): code for code, name in self.names.items()}

    def max_text_tokens(self) -> int:
        return MAX_ANSWER_TOKENS

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False).input_ids)

    def language_problem(self, language: str) -> str | None:
        if language in self.names or language.lower() in self.codes:
            return None
        return f"language {language!r} is not one Qwen3-ASR knows ({', '.join(sorted(self.names))})"

    def language_code(self, language: str | None, where: str) -> str:
        """ISO code for a code or a name ("de", "German"); English when none is given."""
        if not language:
            return "en"
        if problem := self.language_problem(language):
            raise VoxtuneError(f"{where}: {problem}")  # rows were checked: a bad --language
        return language if language in self.names else self.codes[language.lower()]

    def answer_ids(self, text: str, code: str) -> list[int]:
        answer = f"language {self.names[code]}{ASR_TEXT}{text.strip()}"
        return [*self.tokenizer(answer, add_special_tokens=False).input_ids, self.end_id]

    def build_examples(
        self,
        rows: list[CheckedRow],
        model: torch.nn.Module,
        *,
        encode: bool,
        default_language: str | None,
        device: str,
    ) -> list[Example]:
        examples = []
        for start in range(0, len(rows), ENCODE_BATCH):
            batch = rows[start : start + ENCODE_BATCH]
            inputs = self.processor.apply_transcription_request(audio=[r.audio for r in batch])
            masks = inputs["input_features_mask"]
            frames = [int(m.sum()) for m in masks]
            chunk = 2 * model.config.audio_config.n_window  # the encoder reads whole chunks
            prompts = [
                ids[mask.bool()].tolist()
                for ids, mask in zip(inputs["input_ids"], inputs["attention_mask"], strict=True)
            ]
            encoded = self._encode(model, inputs, prompts, device) if encode else None
            for index, checked in enumerate(batch):
                code = self.language_code(
                    checked.row.language or default_language, checked.row.where
                )
                width = -(-frames[index] // chunk) * chunk
                examples.append(
                    Example(
                        audio_name=checked.row.where,
                        audio_path=str(checked.row.audio),
                        text=checked.row.text,
                        language=code,
                        labels=self.answer_ids(checked.row.text, code),
                        prompt=prompts[index],
                        features=None if encode else inputs["input_features"][index, :, :width],
                        features_mask=None if encode else masks[index, :width],
                        encoded=encoded[index] if encoded is not None else None,
                        audio=checked.audio,
                    )
                )
        return examples

    def _encode(
        self,
        model: torch.nn.Module,
        inputs: Mapping[str, torch.Tensor],
        prompts: list[list[int]],
        device: str,
    ) -> list[torch.Tensor]:
        """Each clip's projected audio embeddings, one row per ``<|audio_pad|>`` slot."""
        with torch.no_grad():
            flat = model.get_audio_features(
                inputs["input_features"].to(device, model.dtype),
                inputs["input_features_mask"].to(device),
                return_dict=True,
            ).pooler_output.cpu()
        counts = [prompt.count(self.audio_id) for prompt in prompts]
        if sum(counts) != flat.shape[0]:
            raise VoxtuneError(
                f"{self.loaded.info.location}: audio slots ({sum(counts)}) and encoder frames "
                f"({flat.shape[0]}) differ; the processor does not fit the model"
            )
        return list(torch.split(flat, counts))

    def collate(
        self, batch: list[Example], device: str
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(input ids, attention mask, targets): right-padded; targets only on the answers."""
        length = max(e.length for e in batch)
        ids = torch.full((len(batch), length), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), length), dtype=torch.long)
        targets = torch.full((len(batch), length), -100, dtype=torch.long)
        for row, example in enumerate(batch):
            sequence = torch.tensor(example.prompt + example.labels, dtype=torch.long)
            ids[row, : len(sequence)] = sequence
            mask[row, : len(sequence)] = 1
            targets[row, len(example.prompt) : len(sequence)] = sequence[len(example.prompt) :]
        return ids.to(device), mask.to(device), targets.to(device)

    def loss_tokens(self, example: Example) -> int:
        """Target tokens ``loss`` averages over for this example (its answer)."""
        return len(example.labels)

    def loss(
        self, model: torch.nn.Module, batch: list[Example], device: str, dtype: torch.dtype
    ) -> torch.Tensor:
        ids, mask, targets = self.collate(batch, device)
        # With kernels on, the text model's hidden states go to a chunked cross-entropy: the
        # float32 logits over 151,936 tokens would be the step's largest tensor.
        head = chunked_loss_head(model, device)
        forward = model if head is None else model.model
        if batch[0].encoded is not None:
            embeds = model.get_input_embeddings()(ids)
            slots = (ids == self.audio_id).unsqueeze(-1).expand_as(embeds)
            audio = torch.cat([e.encoded for e in batch]).to(device, embeds.dtype)
            outputs = forward(
                inputs_embeds=embeds.masked_scatter(slots, audio),
                attention_mask=mask,
                use_cache=False,
            )
        else:
            width = max(e.features.shape[-1] for e in batch)
            features = torch.zeros((len(batch), batch[0].features.shape[0], width))
            frames = torch.zeros((len(batch), width), dtype=batch[0].features_mask.dtype)
            for row, example in enumerate(batch):
                features[row, :, : example.features.shape[-1]] = example.features
                frames[row, : example.features_mask.shape[-1]] = example.features_mask
            outputs = forward(
                input_ids=ids,
                attention_mask=mask,
                input_features=features.to(device, dtype),
                input_features_mask=frames.to(device),
                use_cache=False,
            )
        # Position t predicts token t + 1.
        if head is not None:
            return vocabulary_loss(head, outputs.last_hidden_state[:, :-1], targets[:, 1:])
        return torch.nn.functional.cross_entropy(
            outputs.logits[:, :-1].float().transpose(1, 2), targets[:, 1:], ignore_index=-100
        )

    def transcribe(
        self, model: torch.nn.Module, examples: list[Example], device: str, dtype: torch.dtype
    ) -> list[str]:
        model.eval()
        texts: dict[int, str] = {}
        for indices in language_batches(examples, EVAL_BATCH):
            batch = [examples[i] for i in indices]
            # The prompt users get with --language: the answer's header is given, text follows.
            inputs = self.processor.apply_transcription_request(
                audio=[e.audio for e in batch], language=self.names[batch[0].language]
            ).to(device)
            inputs["input_features"] = inputs["input_features"].to(dtype)
            longest = max(len(e.audio) for e in batch) / SAMPLE_RATE
            with torch.no_grad():
                generated = model.generate(
                    **inputs,
                    do_sample=False,
                    num_beams=1,
                    max_new_tokens=min(MAX_ANSWER_TOKENS, int(longest * TOKENS_PER_SECOND) + 16),
                )
            new = generated[:, inputs["input_ids"].shape[1] :]
            for index, ids in zip(indices, new, strict=True):
                text = self.processor.decode(ids, return_format="transcription_only")
                texts[index] = text.strip()
        return [texts[i] for i in range(len(examples))]
