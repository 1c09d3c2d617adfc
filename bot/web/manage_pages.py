"""A subscriber's own pages, reached by signed links: manage (with a live preview), unsubscribe."""

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
