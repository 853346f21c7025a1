/*
 * The "fix my payment" page: save a new card, then let the server charge it
 * (3-D Secure in between when the bank asks). Uses AcompteCheckout (checkout.js).
 */
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("pay-config").textContent);
  const Checkout = window.AcompteCheckout;
  Checkout.messages = config.messages || {};
  const form = document.getElementById("pay-form");
  const button = document.getElementById("pay-button");
  const errorBox = document.getElementById("pay-error");

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
  }

  async function state() {
    const response = await fetch(config.stateUrl, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Checkout.CheckoutError("server", config.messages.generic);
    return response.json();
  }

  async function start() {
    let data;
    try {
      data = await state();
    } catch (err) {
      showError(err.message);
      return;
    }
    if (data.status === "paid") {
      window.location.reload();
      return;
    }
    const stripe = window.Stripe(data.publishable_key);
    const card = Checkout.mountCard(stripe, "card-element");
    const retry = document.getElementById("retry-button");
    if (retry) {
      // The card on file, tried again: 3-D Secure if the bank asks, then confirm once more.
      retry.addEventListener("click", async () => {
        retry.disabled = true;
        errorBox.hidden = true;
        try {
          let answer = await Checkout.postJSON(config.retryUrl, {});
          if (answer.status === "requires_action") {
            const result = await stripe.confirmCardPayment(answer.payment_intent_client_secret);
            if (result.error) throw new Checkout.CheckoutError("authentication_failed", config.messages.authentication_failed);
            answer = await Checkout.postJSON(config.retryUrl, {});
          }
          if (answer.status === "paid") {
            document.getElementById("pay-open").hidden = true;
            document.getElementById("pay-done").hidden = false;
          } else {
            showError(config.messages.declined);
          }
        } catch (err) {
          showError(err.message);
        } finally {
          retry.disabled = false;
        }
      });
    }
    let secret = data.setup_intent_client_secret;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      button.disabled = true;
      errorBox.hidden = true;
      try {
        const answer = await Checkout.saveCardThenConfirm({
          stripe,
          card,
          setupIntentClientSecret: secret,
          // What is due is charged at once: the card goes with it (one 3-D Secure).
          cardStep: data.card_step,
          confirm: (extra) => Checkout.postJSON(config.confirmUrl, extra || {}),
        });
        if (answer.status === "paid") {
          document.getElementById("pay-open").hidden = true;
          document.getElementById("pay-done").hidden = false;
        }
      } catch (err) {
        showError(err.message);
        // A used SetupIntent cannot save another card: ask for a fresh one.
        try {
          secret = (await state()).setup_intent_client_secret;
        } catch (ignored) {
          /* the next submit reports it */
        }
      } finally {
        button.disabled = false;
      }
    });
  }

  start();
})();
