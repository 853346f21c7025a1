/*
 * AcompteCheckout — saving a card and letting the server charge it, in any page.
 *
 * No dependencies, no bundler: include Stripe.js (config STRIPE_JS_URL: the fake
 * server's copy in development, https://js.stripe.com/v3/ with real keys), then
 * this file. It exposes `window.AcompteCheckout`:
 *
 *   const stripe = Stripe(publishableKey);
 *   const card = AcompteCheckout.mountCard(stripe, "card-element");
 *   try {
 *     const answer = await AcompteCheckout.saveCardThenConfirm({
 *       stripe, card,
 *       setupIntentClientSecret,          // from the server (a SetupIntent)
 *       cardStep,                         // the server's card_step: "payment" | "setup"
 *       confirm: (extra) => AcompteCheckout.postJSON(url, {manage_token, ...extra}),
 *     });
 *     // answer: the server's final JSON, e.g. {status: "confirmed"}
 *   } catch (err) {
 *     // err is an AcompteCheckout.CheckoutError: err.kind is one of
 *     // "declined", "authentication_failed", "card_error", "network",
 *     // "server" (err.status, err.code, err.body hold the API's answer);
 *     // err.message is the text to show (translatable through `messages`).
 *   }
 *
 * The flow (the one that works on both the fake server and real Stripe):
 * 1. the card: with `cardStep: "payment"` (the server's `card_step` when money
 *    moves at once) `stripe.createPaymentMethod` makes it a PaymentMethod and
 *    `confirm({payment_method_id})` sends it — the server charges it and asks
 *    Stripe to keep it, so the bank's 3-D Secure is asked once, for the payment;
 *    otherwise (`"setup"`, the default) `stripe.confirmCardSetup` saves it with the
 *    SetupIntent (3-D Secure for the setup, inside Stripe.js) and `confirm({})` follows;
 * 2. `confirm(extra)` asks our server to place the hold or the charge with that
 *    card: merge `extra` into the request body;
 * 3. if the server answers `{status: "requires_action", payment_intent_client_secret}`,
 *    `stripe.confirmCardPayment` opens the bank's 3-D Secure dialog, then
 *    `confirm({})` is called again so the server records the outcome.
 *
 * Pass `skipSetup: true` to retry step 2 only, when the card was saved already.
 * Set `AcompteCheckout.messages` (same keys as DEFAULT_MESSAGES) to translate.
 */
(function () {
  "use strict";

  const DEFAULT_MESSAGES = {
    declined: "Your card was declined. Please try another card.",
    authentication_failed:
      "The authentication with your bank failed, so nothing was charged. Please try again.",
    card_error: "There is a problem with this card: {detail}",
    network: "We could not reach the server. Check your connection and try again.",
    generic: "Something went wrong. Nothing was charged; please try again.",
  };

  class CheckoutError extends Error {
    constructor(kind, message, extra) {
      super(message);
      this.name = "CheckoutError";
      this.kind = kind;
      Object.assign(this, extra || {});
    }
  }

  function text(key, detail) {
    const messages = Object.assign({}, DEFAULT_MESSAGES, api.messages || {});
    return (messages[key] || messages.generic).replace("{detail}", detail || "");
  }

  const DECLINE_CODES = new Set([
    "card_declined", "insufficient_funds", "expired_card", "incorrect_cvc",
    "processing_error", "lost_card", "stolen_card", "do_not_honor", "generic_decline",
  ]);

  /** Turn a Stripe.js error (or our server's error code) into a CheckoutError. */
  function fromStripeError(error) {
    const code = (error && (error.decline_code || error.code)) || "";
    const message = (error && error.message) || "";
    if (/authenticat/i.test(code) || /authenticat/i.test(message)) {
      return new CheckoutError("authentication_failed", text("authentication_failed"), { code });
    }
    if (DECLINE_CODES.has(code) || /declin/i.test(message)) {
      return new CheckoutError("declined", text("declined"), { code });
    }
    return new CheckoutError("card_error", text("card_error", message || code), { code });
  }

  /**
   * POST a JSON body to our own API; resolve with the answer's JSON when 2xx,
   * reject with a CheckoutError (kind "server", with status, code, fields, body) otherwise.
   */
  async function postJSON(url, body) {
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body || {}),
        credentials: "same-origin",
      });
    } catch (networkError) {
      throw new CheckoutError("network", text("network"));
    }
    const json = await response.json().catch(() => ({}));
    if (response.ok) return json;
    const error = (json && json.error) || {};
    const code = error.code || "";
    // A decline or failed authentication reported by our server reads like Stripe's.
    if (response.status === 402 || DECLINE_CODES.has(code) || /authenticat/i.test(code)) {
      const mapped = fromStripeError({ code, message: error.message });
      mapped.status = response.status;
      mapped.body = json;
      throw mapped;
    }
    throw new CheckoutError("server", error.message || text("generic"), {
      status: response.status, code, fields: error.fields || {}, body: json,
    });
  }

  /** Create and mount Stripe's card Element in the node with this id; returns the Element. */
  function mountCard(stripe, elementId) {
    const card = stripe.elements().create("card", {});
    card.mount("#" + elementId);
    return card;
  }

  const FAILED = new Set(["failed", "payment_failed", "requires_payment_method", "canceled"]);

  /**
   * The card from the Element: made a PaymentMethod to send with the payment
   * (`cardStep` "payment"), or saved with the SetupIntent. Resolves with what
   * `confirm` adds to its body.
   */
  async function takeCard(stripe, card, setupIntentClientSecret, cardStep) {
    let result;
    try {
      result = cardStep === "payment"
        ? await stripe.createPaymentMethod({ type: "card", card })
        : await stripe.confirmCardSetup(setupIntentClientSecret, { payment_method: { card } });
    } catch (err) {
      throw new CheckoutError("network", text("network"));
    }
    if (!result || result.error) throw fromStripeError(result && result.error);
    return cardStep === "payment" ? { payment_method_id: result.paymentMethod.id } : {};
  }

  /**
   * Take the card (see `takeCard`), then let the server charge it (with
   * 3-D Secure in between when the bank asks). Resolves with the server's
   * final answer; rejects with a CheckoutError.
   */
  async function saveCardThenConfirm({
    stripe, card, setupIntentClientSecret, confirm, skipSetup, cardStep,
  }) {
    const extra = skipSetup ? {} : await takeCard(stripe, card, setupIntentClientSecret, cardStep);
    let answer = await confirm(extra);
    if (answer && answer.status === "requires_action") {
      let result;
      try {
        result = await stripe.confirmCardPayment(answer.payment_intent_client_secret);
      } catch (err) {
        throw new CheckoutError("network", text("network"));
      }
      // Ask the server either way: it records the outcome (and releases what it must).
      const after = await confirm({}).catch((err) => err);
      if (result.error) throw fromStripeError(result.error);
      if (after instanceof Error) throw after;
      const intent = result.paymentIntent || {};
      if (after.status === "requires_action" || FAILED.has(after.status)) {
        // The bank refused the authentication, or accepted it and then declined the charge.
        const kind = intent.status && !FAILED.has(intent.status) ? "declined" : "authentication_failed";
        throw new CheckoutError(kind, text(kind), { body: after });
      }
      answer = after;
    }
    if (answer && FAILED.has(answer.status)) {
      throw new CheckoutError("declined", text("declined"), { body: answer });
    }
    return answer;
  }

  const api = {
    mountCard,
    saveCardThenConfirm,
    postJSON,
    fromStripeError,
    CheckoutError,
    DEFAULT_MESSAGES,
    messages: {},
  };
  window.AcompteCheckout = api;
})();
