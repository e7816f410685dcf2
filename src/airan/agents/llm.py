"""Optional LLM backend (any OpenAI-compatible ``/chat/completions`` endpoint) used only to rephrase reports.

Off unless ``AIRAN_LLM_URL`` and ``AIRAN_LLM_MODEL`` are set. Decisions never depend on it; any failure
(network, timeout, a reply that drops or changes a cited number) falls back to the original text.
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
from dataclasses import dataclass

from airan.core.errors import ConfigError

_NUM = re.compile(r"-?\d+(?:\.\d+)?")


@dataclass(frozen=True)
class LlmConfig:
    url: str
    model: str
    api_key: str = ""
    timeout_s: float = 20.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ConfigError(f"AIRAN_LLM_URL must be an http(s) URL, got {self.url!r}")
        if not self.model:
            raise ConfigError("AIRAN_LLM_MODEL must name a model")
        if self.timeout_s <= 0:
            raise ConfigError(f"timeout_s must be > 0, got {self.timeout_s!r}")

    @classmethod
    def from_env(cls) -> LlmConfig | None:
        url, model = os.environ.get("AIRAN_LLM_URL", ""), os.environ.get("AIRAN_LLM_MODEL", "")
        if not url or not model:
            return None
        return cls(url.rstrip("/"), model, os.environ.get("AIRAN_LLM_API_KEY", ""))


def same_numbers(a: str, b: str) -> bool:
    """True when ``b`` cites exactly the numbers of ``a`` (as multisets of their text)."""
    return sorted(_NUM.findall(a)) == sorted(_NUM.findall(b))


def rephrase(text: str, cfg: LlmConfig | None) -> str:
    """Ask the LLM for a clearer wording; return ``text`` unchanged if off, failing, or numbers changed."""
    if cfg is None:
        return text
    body = {"model": cfg.model, "temperature": 0, "messages": [
        {"role": "system", "content": "Rewrite this RAN incident report for an operator. Keep every number "
                                      "exactly as written; add no number; keep it short."},
        {"role": "user", "content": text}]}
    req = urllib.request.Request(cfg.url + "/chat/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": f"Bearer {cfg.api_key}"} if cfg.api_key else {})})
    try:
        with urllib.request.urlopen(req, timeout=cfg.timeout_s) as resp:  # noqa: S310 (operator-configured URL)
            out = json.loads(resp.read())["choices"][0]["message"]["content"]
    except Exception:  # noqa: BLE001 (the LLM is optional: any failure keeps the original text)
        return text
    return out if isinstance(out, str) and same_numbers(text, out) else text
