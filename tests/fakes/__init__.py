"""Test doubles: a local fake OpenAI-compatible server (`fakes.openai_server`)."""
