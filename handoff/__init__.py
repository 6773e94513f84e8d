"""Escalation to humans: business hours, SLA promises (queue, tickets and presence come later)."""
