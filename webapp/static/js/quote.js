/*
 * The client's quote page: sign (typed name + terms), save the card, pay the deposit.
 * Uses the shared window.AcompteCheckout (checkout.js) for the Stripe part.
 */
(function () {
  "use strict";
  const form = document.getElementById("accept-form");
  if (!form || !window.Stripe || !window.AcompteCheckout) return;
  const checkout = window.AcompteCheckout;
  const stripe = window.Stripe(form.dataset.publishableKey);
  const card = checkout.mountCard(stripe, "card-element");
  const errorBox = document.getElementById("accept-error");
  const button = document.getElementById("accept-button");

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    errorBox.hidden = true;
    const signerName = document.getElementById("signer_name").value.trim();
    const acceptTerms = document.getElementById("accept_terms").checked;
    if (!acceptTerms) {
      // Said in the page's language (the API's own message is English).
      showError(form.dataset.termsMessage);
      return;
    }
    button.disabled = true;
    try {
      const signed = await checkout.postJSON(form.dataset.acceptUrl, {
        signer_name: signerName,
        accept_terms: acceptTerms,
      });
      await checkout.saveCardThenConfirm({
        stripe,
        card,
        setupIntentClientSecret: signed.setup_intent_client_secret,
        // "payment" when a deposit is charged at once: one 3-D Secure, for the deposit.
        cardStep: signed.card_step,
        confirm: (extra) =>
          checkout.postJSON(
            form.dataset.confirmUrl,
            Object.assign({ acceptance_id: signed.acceptance_id }, extra),
          ),
      });
      window.location.reload();
    } catch (err) {
      const fields = (err && err.fields) || {};
      const first = Object.values(fields)[0];
      showError((first && first[0]) || (err && err.message) || form.dataset.errorMessage);
      button.disabled = false;
    }
  });

  const decline = document.getElementById("decline-form");
  if (decline) {
    decline.addEventListener("submit", async function (event) {
      event.preventDefault();
      try {
        await checkout.postJSON(decline.dataset.url, {
          reason: document.getElementById("decline_reason").value,
        });
        window.location.reload();
      } catch (err) {
        showError(err.message);
      }
    });
  }
})();
