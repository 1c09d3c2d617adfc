"""Channels: where digests go, one module each.

`bot.channels.outlet` is how a delivery run sends each kind of channel's digests:
`email`, `markdown`, and `chat` for every chat channel. A chat channel is a
digest rendered for a service and sent over HTTP: `bot.channels.base` holds the
protocol every chat channel follows and what they share, `bot.channels.registry`
the table of kinds (`slack`, `discord`, `matrix`, `webhook`).
"""
