"""Chat and webhook channels: a digest rendered for a service and sent over HTTP.

`bot.channels.base` holds the protocol every channel follows and what they share;
`bot.channels.registry` is the table of kinds. One module per channel.
"""
