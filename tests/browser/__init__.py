"""Browser tests of the wall screen (headless Chromium) and their helpers."""
