"""Adversarial campaigns against ttrain's promises: each one a script (`python -m tests.campaigns.NAME`), a short form in CI."""
