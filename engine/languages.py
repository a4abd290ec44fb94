"""What a user may type for ``--language``, turned into the code a model knows; torch-free.

People write ``EN``, ``en-US``, ``pt_BR`` or ``english``; the decoders want ``en``. Anything
else is refused here, at the entry points (CLI, job submission), with one line that says what
would be accepted: a bad language must not cost a model load, nor fail deep in a decoder.
"""

from __future__ import annotations

from collections.abc import Collection

from voxtune.engine.errors import VoxtuneError

# Whisper's languages (code -> English name, as openai-whisper names them) and the codes
# Qwen3-ASR adds. The union of what the families transcribe.
LANGUAGE_NAMES: dict[str, str] = {
    "en": "english", "zh": "chinese", "de": "german", "es": "spanish", "ru": "russian",
    "ko": "korean", "fr": "french", "ja": "japanese", "pt": "portuguese", "tr": "turkish",
    "pl": "polish", "ca": "catalan", "nl": "dutch", "ar": "arabic", "sv": "swedish",
    "it": "italian", "id": "indonesian", "hi": "hindi", "fi": "finnish", "vi": "vietnamese",
    "he": "hebrew", "uk": "ukrainian", "el": "greek", "ms": "malay", "cs": "czech",
    "ro": "romanian", "da": "danish", "hu": "hungarian", "ta": "tamil", "no": "norwegian",
    "th": "thai", "ur": "urdu", "hr": "croatian", "bg": "bulgarian", "lt": "lithuanian",
    "la": "latin", "mi": "maori", "ml": "malayalam", "cy": "welsh", "sk": "slovak",
    "te": "telugu", "fa": "persian", "lv": "latvian", "bn": "bengali", "sr": "serbian",
    "az": "azerbaijani", "sl": "slovenian", "kn": "kannada", "et": "estonian",
    "mk": "macedonian", "br": "breton", "eu": "basque", "is": "icelandic", "hy": "armenian",
    "ne": "nepali", "mn": "mongolian", "bs": "bosnian", "kk": "kazakh", "sq": "albanian",
    "sw": "swahili", "gl": "galician", "mr": "marathi", "pa": "punjabi", "si": "sinhala",
    "km": "khmer", "sn": "shona", "yo": "yoruba", "so": "somali", "af": "afrikaans",
    "oc": "occitan", "ka": "georgian", "be": "belarusian", "tg": "tajik", "sd": "sindhi",
    "gu": "gujarati", "am": "amharic", "yi": "yiddish", "lo": "lao", "uz": "uzbek",
    "fo": "faroese", "ht": "haitian creole", "ps": "pashto", "tk": "turkmen", "nn": "nynorsk",
    "mt": "maltese", "sa": "sanskrit", "lb": "luxembourgish", "my": "myanmar", "bo": "tibetan",
    "tl": "tagalog", "mg": "malagasy", "as": "assamese", "tt": "tatar", "haw": "hawaiian",
    "ln": "lingala", "ha": "hausa", "ba": "bashkir", "jw": "javanese", "su": "sundanese",
    "yue": "cantonese", "fil": "filipino",
}  # fmt: skip

# Other spellings people use: older or alternative ISO codes and names.
ALIASES: dict[str, str] = {
    "iw": "he", "jv": "jw", "nb": "no", "bokmal": "no", "burmese": "my", "valencian": "ca",
    "flemish": "nl", "haitian": "ht", "letzeburgesch": "lb", "pushto": "ps", "panjabi": "pa",
    "moldavian": "ro", "moldovan": "ro", "sinhalese": "si", "castilian": "es",
    "mandarin": "zh", "farsi": "fa",
}  # fmt: skip
# Codes for one language under two names: a model knowing either takes both.
_SAME_LANGUAGE = {"fil": "tl", "tl": "fil"}
# What ``--language`` may say for "find out from the audio".
DETECT = frozenset({"", "auto", "detect"})

_BY_NAME = {name: code for code, name in LANGUAGE_NAMES.items()}


def language_code(value: str) -> str | None:
    """The code ``value`` names (``EN``, ``en-US``, ``pt_BR``, ``English``), or None."""
    text = value.strip().lower().replace("_", "-")
    if not all(part.isalpha() for part in text.split("-")[:1]) or text.endswith("-"):
        return None
    for candidate in (text, text.split("-")[0]):  # en-us -> en; a name never has a "-"
        candidate = ALIASES.get(candidate, candidate)
        if candidate in LANGUAGE_NAMES:
            return candidate
        if candidate in _BY_NAME:
            return _BY_NAME[candidate]
    return None


def checked_language(value: str | None, model: str, languages: Collection[str]) -> str | None:
    """The code for ``value`` that ``model`` (which transcribes ``languages``) takes.

    None (detect) for no value. ``languages`` empty means not known before loading: the
    value is then only checked to be a language. VoxtuneError, one line, otherwise.
    """
    if value is None or value.strip().lower() in DETECT:
        return None
    code = language_code(value)
    known = set(languages)
    if code is None:
        examples = "en, de, en-US, english"
        raise VoxtuneError(
            f"--language {value!r}: not a language code or name (for example {examples})"
        )
    if not known or code in known:
        return code
    if _SAME_LANGUAGE.get(code) in known:
        return _SAME_LANGUAGE[code]
    name = LANGUAGE_NAMES[code].title()
    if known == {"en"}:
        raise VoxtuneError(
            f"{model} transcribes English only, not {name} ({value}); "
            "choose a multilingual model (voxtune models)"
        )
    raise VoxtuneError(
        f"{model}: does not know {name} ({value}); it knows {', '.join(sorted(known))}"
    )
