"""The product features, one package each. `create_app` imports every module
listed here *before* registering the API blueprint (their API routes attach to
it at import), then calls the module's `register(app)` for its pages.

A feature package (e.g. `webapp/booking/`) holds its models, schemas, routes,
API routes and templates folder; add one line here to plug it in.
"""

FEATURES: list[str] = [
    "webapp.booking",
    "webapp.calendars",
    "webapp.quotes",
    "webapp.messages",
    "webapp.invoices",
    "webapp.supplier_invoices",
    "webapp.dunning",
    "webapp.notifications",
    "webapp.books",
    # Last: the public page lives at /<slug>, after every fixed path.
    "webapp.public",
]
