"""The Litestar API: history, adherence, sleep, gaps and notifications over REST; live data over websockets.

Organised by domain (`api/<domain>/{controllers,services,schemas}.py`); `api.app.create_app` wires it up.
"""
