from wearstream.cli import app

app()
