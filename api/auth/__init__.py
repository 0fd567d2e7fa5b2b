"""API keys with roles (admin, researcher, participant), checked on every REST and websocket request."""
