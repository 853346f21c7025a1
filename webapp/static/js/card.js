/*
 * The booking's card page (/b/<id>/card): save a new card and hold the booking's amount at once,
 * through the same checkout as the payment step (AcompteCheckout.saveCardThenConfirm).
 */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("public-config").textContent);
  const Checkout = window.AcompteCheckout;
  Checkout.messages = config.messages;
  const API = `/api/v1/public/bookings/${config.booking_id}`;
  const $ = (id) => document.getElementById(id);
  const form = $("card-form");
  if (!form) return;

  const stripe = window.Stripe(config.publishable_key);
  const card = Checkout.mountCard(stripe, "card-element");
  $("card-element").querySelectorAll("input").forEach((input) => {
    if (!input.getAttribute("aria-label")) {
      input.setAttribute("aria-label", input.getAttribute("placeholder") || "card");
    }
  });
  const button = $("card-button");
  const error = $("card-error");

  function show(message) {
    error.textContent = message || "";
    error.hidden = !message;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    show("");
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    $("card-status").textContent = config.messages.paying;
    try {
      const setup = await Checkout.postJSON(`${API}/card-setup`, { manage_token: config.token });
      await Checkout.saveCardThenConfirm({
        stripe,
        card,
        setupIntentClientSecret: setup.setup_intent_client_secret,
        // The hold is placed at once: the card goes with it (one 3-D Secure).
        cardStep: setup.card_step,
        confirm: (extra) =>
          Checkout.postJSON(`${API}/confirm`, Object.assign({ manage_token: config.token }, extra)),
      });
      window.location.assign(config.manage_url);
    } catch (err) {
      $("card-status").textContent = "";
      show(err.message || config.messages.generic);
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  });
})();
