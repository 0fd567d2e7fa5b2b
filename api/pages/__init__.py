"""Built-in web pages: the cohort, a participant (history at any zoom, live heart rate) and adherence with
reminders — plain ES modules and CSS served by the API itself, no build step and no third-party code.

`pages_router` serves the single-page app at `/` and its assets under `/ui/`; both are public (the pages hold
no data: they call the API with the key the user signs in with, kept in the `wearstream_token` cookie).
"""

from api.pages.routes import pages_router

__all__ = ["pages_router"]
