"""The help desk: agent accounts and sessions, presence, the handoff queue and claims, tickets
and their replies by e-mail, GDPR export and erase, and the admin CLI (`python -m handoff`)."""
