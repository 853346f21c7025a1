"""The product features, one package each. The web layer (`webapp.web`) imports
every package listed here and its `API_MODULES` *before* registering the API
blueprint (their API routes attach to it at import), then calls the package's
`register(app)` for its pages.

A feature package (e.g. `webapp/booking/`) holds its models, schemas, routes,
API routes and templates folder; add one line here to plug it in. Its
`__init__` stays light (the due work and the models import it): it names its
API modules in `API_MODULES` (imported with the web layer, `webapp.web`),
registers its pages in `register(app)`, and wires anything every command needs
(a listener, not a page) in an optional `connect(app)`, called by `create_app`
whether or not the web layer is deferred (`webapp.deferred`).
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
