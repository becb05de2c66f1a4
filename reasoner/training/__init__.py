"""Training: supervised training of the bundled models, and GRPO."""
