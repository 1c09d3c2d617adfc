"""Subscribing on the web: the form, the confirmation email, the confirm link."""

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
