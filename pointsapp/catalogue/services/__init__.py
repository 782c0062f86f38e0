"""The catalogue's services: items and their versions (items.py), and the rules every feature asks (rules.py)."""
