"""What the integrations pages and operations read and answer: webhooks.py."""
