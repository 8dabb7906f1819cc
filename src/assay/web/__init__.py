"""The browser UI: server-rendered login, then static pages that call the public JSON API."""
