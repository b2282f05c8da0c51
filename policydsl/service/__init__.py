"""`policydsl serve`: the policies' compiled evaluators behind a JSON API (app.py) and the questionnaire
page at `/` (static/), reloaded when their files change (registry.py).  docs/service.md is the guide."""
