"""Versioned prompt templates (`<prompt_id>/v<N>.yaml`) and their loader; see README.md here."""

from radprm.prompts.registry import (
    PROMPTS_DIR_ENV,
    PromptRegistry,
    PromptTemplate,
    default_prompts_dir,
    list_prompts,
    load_prompt,
    load_prompt_file,
    parse_spec,
)

__all__ = [
    "PROMPTS_DIR_ENV",
    "PromptRegistry",
    "PromptTemplate",
    "default_prompts_dir",
    "list_prompts",
    "load_prompt",
    "load_prompt_file",
    "parse_spec",
]
