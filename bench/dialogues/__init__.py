"""Scripted whole conversations, run through the real gateway and Rasa (docs/dialogues.md)."""
