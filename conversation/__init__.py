"""The conversation core, whatever the channel: the message model and the channel ports, the
router (bot or agent, one turn at a time), transcripts, satisfaction surveys and the degraded
mode that answers when the bot is down. Below the gateway; above the help desk (`handoff`)."""
