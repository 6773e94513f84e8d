"""E-mail as a channel (issue 21): shoppers write to the support mailbox, the bot replies once at
once, agents answer from the console, and one thread stays one conversation.

- `parse`: raw RFC 822 bytes -> `InboundMail` (stdlib parser, HTML to text, attachment limits,
  quoted replies and signatures stripped for the transcript, the original kept);
- `rules`: which mail may get an automatic reply (no loops with auto-responders and bounces);
- `imap_reader`: the support mailbox over IMAP (IDLE, polling fallback, a UIDVALIDITY + UID
  cursor and a reader lease in Redis); its settings from IMAP_URL in `imap_settings`, the
  connection in `imap_client`, the lease and cursor in `imap_state`;
- `threads`: which conversation a mail belongs to (signed reply address, Message-IDs, ticket tag);
- `ingest`: a parsed mail into the conversation, the ticket and the automatic reply;
- `outbound`: our replies, with threading headers, through handoff.mailer's SMTP.
"""
