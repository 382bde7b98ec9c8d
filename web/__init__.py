"""Browser pages, JSON API, live events and the error handler."""
