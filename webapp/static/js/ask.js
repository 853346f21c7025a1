/*
 * The ask page (/<slug>/ask): write a question, maybe join a file, save a card;
 * the amount is held (not charged) and the client lands on their private thread.
 *
 * Uses the shared window.AcompteCheckout (checkout.js) for the card: save it with
 * a SetupIntent, then our server places the hold (3-D Secure in between if asked).
 * The question is created once: a retry after a refused file or a declined card
 * reuses it instead of asking twice.
 */
(function () {
  "use strict";

  const form = document.getElementById("ask-form");
  if (!form || !window.AcompteCheckout || !window.Stripe) return;
  const checkout = window.AcompteCheckout;
  const stripe = window.Stripe(form.dataset.publishableKey);
  const card = checkout.mountCard(stripe, "card-element");
  const banner = document.getElementById("ask-error");
  const button = document.getElementById("ask-submit");
  const MAX_BYTES = 5 * 1024 * 1024;
  // The question once created: {message_id, token, setup_intent_client_secret}.
  let created = null;
  let fileSent = false;

  function showErrors(message, fields) {
    form.querySelectorAll("[data-error]").forEach((node) => { node.textContent = ""; });
    Object.entries(fields || {}).forEach(([name, messages]) => {
      const node = form.querySelector(`[data-error="${name}"]`);
      // A nested field (postal_address) answers {city: [...], ...}: show every message.
      const flat = (m) => (m && typeof m === "object" && !Array.isArray(m)
        ? Object.values(m).flatMap(flat) : [].concat(m));
      if (node) node.textContent = flat(messages).join(" ");
    });
    banner.hidden = !message;
    banner.textContent = message || "";
  }

  async function uploadFile(file) {
    const data = new FormData();
    data.append("token", created.token);
    data.append("file", file);
    const response = await fetch(`/api/v1/public/messages/${created.message_id}/attachments`, {
      method: "POST", body: data, credentials: "same-origin",
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      const error = body.error || {};
      throw new checkout.CheckoutError("server", error.message || "", {
        fields: error.fields || { file: [error.message || ""] },
      });
    }
    fileSent = true;
  }

  // "I am asking for a company": the client identity the invoice needs (webapp.clients).
  const businessBox = form.elements.is_business;
  businessBox.addEventListener("change", () => {
    document.getElementById("company-fields").hidden = !businessBox.checked;
  });

  function companyFields() {
    if (!businessBox.checked) return {};
    const value = (name) => form.elements[name].value.trim();
    const out = {
      is_business: true,
      company: value("company"),
      siren: value("siren"),
      vat_number: value("vat_number"),
    };
    if (value("line1") || value("city")) {
      out.postal_address = {
        line1: value("line1"),
        postal_code: value("postal_code"),
        city: value("city"),
        country: value("country").toUpperCase() || "FR",
      };
    }
    return out;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showErrors("", {});
    const file = form.elements.file.files[0];
    if (file && file.size > MAX_BYTES) {
      showErrors("", { file: [form.elements.file.labels[0].textContent] });
      return;
    }
    button.disabled = true;
    try {
      if (!created) {
        const urgent = form.elements.urgent;
        created = await checkout.postJSON(
          `/api/v1/public/freelancers/${encodeURIComponent(form.dataset.slug)}/messages`,
          Object.assign({
            name: form.elements.name.value,
            email: form.elements.email.value,
            text: form.elements.text.value,
            urgent: Boolean(urgent && urgent.checked),
          }, companyFields()),
        );
      }
      if (file && !fileSent) await uploadFile(file);
      await checkout.saveCardThenConfirm({
        stripe,
        card,
        setupIntentClientSecret: created.setup_intent_client_secret,
        // The hold is placed at once: the card goes with it (one 3-D Secure).
        cardStep: created.card_step,
        confirm: (extra) => checkout.postJSON(
          `/api/v1/public/messages/${created.message_id}/confirm`,
          Object.assign({ token: created.token }, extra),
        ),
      });
      window.location.assign(form.dataset.conversationBase + encodeURIComponent(created.token));
    } catch (err) {
      // A declined card: the server opened a new SetupIntent for another card.
      const body = err.body || {};
      if (created && body.setup_intent_client_secret) {
        created.setup_intent_client_secret = body.setup_intent_client_secret;
      }
      showErrors(err.message, err.fields || {});
      button.disabled = false;
    }
  });
})();
