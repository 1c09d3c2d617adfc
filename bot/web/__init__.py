"""The web app served by `paperbot serve`."""
