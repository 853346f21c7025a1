"""What real Stripe.js does and localstripe's mock of it does not: `createPaymentMethod`.

The client-present checkouts that charge at once take the card as a
PaymentMethod made in the browser (`stripe.createPaymentMethod({type: "card",
card: element})`), so that the payment's own 3-D Secure is the only one
(docs/design.md, "One 3-D Secure"). localstripe's `localstripe-v3.js` has the
method as an empty stub, and its server accepts `POST /v1/payment_methods` only
with a secret key, whereas real Stripe takes it from the browser with the
publishable key. This fills both gaps, the way localstripe's own
`confirmCardSetup` works (the publishable key as `key` in a JSON body):

- the served Stripe.js gains a `createPaymentMethod` posting the card Element's
  fields to `/v1/payment_methods`;
- `POST /v1/payment_methods` with a publishable `key` (and no secret key)
  creates a card PaymentMethod, nothing else.

Payments themselves are untouched: PaymentIntents, their 3-D Secure and every
other call are localstripe's own.
"""

from __future__ import annotations

from typing import Any

CREATE_PAYMENT_METHOD_JS = """
// Added by webapp.dev.fakestripe_extras: Stripe.js's createPaymentMethod for card Elements.
(function () {
  const makeStripe = Stripe;
  Stripe = (apiKey) => {
    const stripe = makeStripe(apiKey);
    stripe.createPaymentMethod = async (data) => {
      const element = data && data.card;
      const value = (element && element.value) || { card: {}, postal_code: "" };
      const billing = Object.assign({}, (data && data.billing_details) || {});
      billing.address = Object.assign({ postal_code: value.postal_code }, billing.address || {});
      try {
        const response = await fetch(`${LOCALSTRIPE_BASE_API}/v1/payment_methods`, {
          method: "POST",
          body: JSON.stringify({
            key: apiKey, type: "card", card: value.card, billing_details: billing,
          }),
        });
        const body = await response.json().catch(() => ({}));
        if (response.status !== 200 || body.error) {
          return { error: body.error || { message: "Your card number is incomplete." } };
        }
        return { paymentMethod: body };
      } catch (err) {
        return { error: err };
      }
    };
    return stripe;
  };
})();
"""


def install(app: Any) -> None:
    """Add the middleware to localstripe's aiohttp app (before it starts)."""
    from aiohttp import web
    from localstripe.resources import PaymentMethod, store
    from localstripe.server import json_response

    @web.middleware
    async def browser_payment_methods(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method == "GET" and request.path.rstrip("/") == "/js.stripe.com/v3":
            response = await handler(request)
            return web.Response(
                text=response.text + CREATE_PAYMENT_METHOD_JS,
                content_type="application/javascript",
            )
        if (
            request.method == "POST"
            and request.path == "/v1/payment_methods"
            and "Authorization" not in request.headers
        ):
            data = await request.json()
            key = data.pop("key", None) if isinstance(data, dict) else None
            if isinstance(key, str) and key.startswith("pk_") and data.get("type") == "card":
                data.pop("payment_user_agent", None)
                method = PaymentMethod._api_create(**data)
                store.dump_to_disk()
                return json_response(method._export())
        return await handler(request)

    # After localstripe's error middleware (its errors become Stripe's JSON),
    # before its authentication (which knows only secret keys here).
    app.middlewares.insert(1, browser_payment_methods)
