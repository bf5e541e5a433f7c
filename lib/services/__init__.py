"""Providers and jobs: reaching OpenAI, Azure, Together or the local engine, and their facts."""
