"""Test harness: a real-browser driver (browser.py) and stand-in assets (devassets.py)."""
