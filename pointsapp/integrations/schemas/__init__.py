"""What the integrations pages and operations read and answer: tokens.py, webhooks.py."""
