"""Channels: web (widget WebSocket + HTTP), Messenger and WhatsApp, all normalised to `Message`."""
