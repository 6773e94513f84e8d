"""Custom Rasa NLU components (loaded by module path from config.yml; Rasa puts bot/ on sys.path)."""
