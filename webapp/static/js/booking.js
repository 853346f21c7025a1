/*
 * The client pages of a booking: the public booking page (choose a session, a
 * day, a time, then book and pay) and the "manage my booking" page (move to
 * another free time, cancel). Talks only to the public JSON API (CONTRACT.md);
 * the payment step is AcompteCheckout (checkout.js). Settings and translated
 * messages come from the server in <script id="public-config">.
 */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("public-config").textContent);
  const M = config.messages;
  // The page's language, in the browser's regional variant when they agree (en-GB: 24 h clock).
  const pageLocale = config.locale || document.documentElement.lang || "en";
  const locale = (navigator.language || "").split("-")[0] === pageLocale ? navigator.language : pageLocale;
  const Checkout = window.AcompteCheckout;
  Checkout.messages = M;
  const API = "/api/v1/public";
  const WEEKS_SHOWN = 4;

  const $ = (id) => document.getElementById(id);

  function detectedZone() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || config.freelancer_timezone || "UTC";
    } catch (e) {
      return config.freelancer_timezone || "UTC";
    }
  }

  function show(node, message) {
    if (!node) return;
    node.textContent = message || "";
    node.hidden = !message;
  }

  function formatWhen(date, zone) {
    return new Intl.DateTimeFormat(locale, {
      timeZone: zone, dateStyle: "full", timeStyle: "short",
    }).format(date) + " (" + zone + ")";
  }

  /** Server-rendered times are in the freelancer's zone; show them in the client's. */
  function localiseTimes(zone) {
    document.querySelectorAll("time.local-time[datetime]").forEach((node) => {
      const start = new Date(node.getAttribute("datetime"));
      if (!isNaN(start)) node.textContent = formatWhen(start, zone);
    });
  }

  /** The zone picker: a searchable <input list> of IANA zones (the page's <datalist>). */
  function fillZones(input, zone) {
    input.value = zone;
    input.dataset.zone = zone;
  }

  /** The month calendar and its times (calendar.js), in the page's language. */
  function SlotPicker(options) {
    return window.AcompteCalendar.SlotPicker(Object.assign({ locale, messages: M }, options));
  }

  // --- the booking page ---------------------------------------------------------------

  function bookingPage() {
    const zoneSelect = $("tz");
    const offerings = new Map((config.offerings || []).map((o) => [String(o.id), o]));
    const payForm = $("pay-form");
    const payButton = $("pay-button");
    const payError = $("pay-error");
    const payStatus = $("pay-status");
    const state = { offering: null, slot: null, pending: null, picker: null };
    let stripe = null;
    let card = null;

    fillZones(zoneSelect, detectedZone());

    function ensureCard() {
      if (card) return;
      stripe = window.Stripe(config.publishable_key);
      card = Checkout.mountCard(stripe, "card-element");
      // The fake Stripe.js renders plain inputs: give them accessible names.
      $("card-element").querySelectorAll("input").forEach((input) => {
        if (!input.getAttribute("aria-label")) {
          input.setAttribute("aria-label", input.getAttribute("placeholder") || "card");
        }
      });
    }

    function choose(offeringId) {
      state.offering = offerings.get(String(offeringId));
      state.slot = null;
      state.pending = null;
      $("step-time").hidden = false;
      $("step-pay").hidden = true;
      state.picker = SlotPicker({
        slug: config.slug, offeringId: state.offering.id, zoneSelect, onPick: pick,
      });
      state.picker.load();
    }

    function pick(slot, when) {
      state.slot = slot;
      const o = state.offering;
      $("summary-what").textContent = `${o.title} · ${o.duration}`;
      $("summary-when").textContent = when;
      $("summary-price").textContent = o.price;
      $("summary-now").textContent = o.due_now;
      payButton.textContent = o.pay_label;
      $("summary-policy").textContent = o.policy_text;
      $("summary-terms").textContent = o.terms_text;
      show(payError, "");
      $("step-pay").hidden = false;
      ensureCard();
      $("step-pay-title").focus();
    }

    document.querySelectorAll('input[name="offering"]').forEach((radio) => {
      radio.addEventListener("change", () => choose(radio.value));
    });
    zoneSelect.addEventListener("change", () => {
      if (state.picker) state.picker.load();
      if (state.slot) $("summary-when").textContent = formatWhen(new Date(state.slot.start), zoneSelect.value);
    });

    function fieldError(name, message) {
      const node = $(`client-${name}-error`);
      node.textContent = message || "";
      $(`client-${name}`).setAttribute("aria-invalid", message ? "true" : "false");
    }

    function firstMessage(value) {
      if (Array.isArray(value)) return value.join(" ");
      if (value && typeof value === "object") return Object.values(value).map(firstMessage).join(" ");
      return value ? String(value) : "";
    }

    function validate(name, email) {
      fieldError("name", name ? "" : M.required_name);
      const emailOk = /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email);
      fieldError("email", emailOk ? "" : M.invalid_email);
      if (!name) $("client-name").focus();
      else if (!emailOk) $("client-email").focus();
      return Boolean(name) && emailOk;
    }

    function slotLost(message) {
      state.pending = null;
      state.slot = null;
      show(payError, message);
      $("step-pay").hidden = true;
      const timeStatus = $("slots-status");
      state.picker.load().then(() => {
        show(timeStatus, message);
        $("step-time-title").focus();
      });
    }

    // "I am booking for a company": the client identity the invoice needs (webapp.clients).
    const businessBox = $("client-is-business");
    if (businessBox) {
      businessBox.addEventListener("change", () => {
        $("client-company-fields").hidden = !businessBox.checked;
      });
    }

    function companyFields() {
      if (!businessBox || !businessBox.checked) return {};
      const value = (id) => $(id).value.trim();
      const out = {
        is_business: true,
        company: value("client-company"),
        siren: value("client-siren"),
        vat_number: value("client-vat"),
      };
      if (value("client-line1") || value("client-city")) {
        out.postal_address = {
          line1: value("client-line1"),
          postal_code: value("client-postal-code"),
          city: value("client-city"),
          country: value("client-country").toUpperCase() || "FR",
        };
      }
      return out;
    }

    async function submit(event) {
      event.preventDefault();
      show(payError, "");
      const name = $("client-name").value.trim();
      const email = $("client-email").value.trim();
      if (!state.slot || !validate(name, email)) return;
      payButton.disabled = true;
      payButton.setAttribute("aria-busy", "true");
      payStatus.textContent = M.paying;
      try {
        if (!state.pending || state.pending.start !== state.slot.start) {
          const created = await Checkout.postJSON(
            `${API}/freelancers/${encodeURIComponent(config.slug)}/bookings`,
            {
              offering_id: state.offering.id,
              start: state.slot.start,
              client: Object.assign({ name, email, timezone: zoneSelect.value }, companyFields()),
            },
          );
          state.pending = Object.assign({}, created, { start: state.slot.start, cardSaved: false });
        }
        const pending = state.pending;
        await Checkout.saveCardThenConfirm({
          stripe,
          card,
          setupIntentClientSecret: pending.setup_intent_client_secret,
          skipSetup: pending.cardSaved,
          // "payment" when money moves now: the card goes with the payment (one 3-D Secure).
          cardStep: pending.card_step,
          confirm: (extra) => {
            pending.cardSaved = true;
            if (extra && extra.payment_method_id) pending.paymentMethodId = extra.payment_method_id;
            const body = { manage_token: pending.manage_token };
            if (pending.paymentMethodId) body.payment_method_id = pending.paymentMethodId;
            return Checkout.postJSON(`${API}/bookings/${pending.booking_id}/confirm`, body);
          },
        });
        window.location.assign(
          `/b/${pending.booking_id}/confirmed?token=${encodeURIComponent(pending.manage_token)}`,
        );
        return;
      } catch (err) {
        payStatus.textContent = "";
        await handleError(err);
      } finally {
        payButton.disabled = false;
        payButton.removeAttribute("aria-busy");
      }
    }

    async function handleError(err) {
      const pending = state.pending;
      if (pending && pending.cardSaved && (err.kind === "declined" || err.kind === "authentication_failed")) {
        // The card was saved, then the charge failed: the booking keeps its slot
        // (until it expires) and asks for a new SetupIntent to save another card.
        try {
          const fresh = await Checkout.postJSON(`${API}/bookings/${pending.booking_id}/card-setup`, {
            manage_token: pending.manage_token,
          });
          pending.setup_intent_client_secret = fresh.setup_intent_client_secret;
          pending.card_step = fresh.card_step || pending.card_step;
          pending.paymentMethodId = null;
          pending.cardSaved = false;
        } catch (e) {
          state.pending = null; // start again with a new booking on the next click
        }
      }
      if (err.kind === "server") {
        if ((err.status === 409 && /expir/i.test(err.code || "")) || err.status === 410) {
          return slotLost(M.expired);
        }
        if (err.status === 409 && (err.code === "slot_taken" || err.code === "conflict")) {
          return slotLost(M.slot_taken);
        }
        if (err.status === 422) {
          const fields = err.fields || {};
          const client = fields.client || {};
          if (client.name || fields.name) fieldError("name", firstMessage(client.name || fields.name));
          if (client.email || fields.email) fieldError("email", firstMessage(client.email || fields.email));
          const companyKeys = ["company", "siren", "vat_number", "postal_address"].filter((k) => client[k]);
          if (companyKeys.length) {
            $("client-company-error").textContent = companyKeys.map((k) => firstMessage(client[k])).join(" ");
          }
          if (fields.start) return slotLost(M.slot_taken);
          return show(payError, err.message);
        }
        if (err.status === 404 && pending) {
          state.pending = null; // the pending booking lapsed: start again on the next click
          return show(payError, M.expired);
        }
      }
      show(payError, err.message || M.generic);
    }

    payForm.addEventListener("submit", submit);
    // If the page was loaded with one offering only, open it at once.
    const radios = document.querySelectorAll('input[name="offering"]');
    if (radios.length === 1) {
      radios[0].checked = true;
      choose(radios[0].value);
    }
  }

  // --- the manage page --------------------------------------------------------------

  function managePage() {
    const token = new URLSearchParams(window.location.search).get("token") || "";
    const zone = detectedZone();
    localiseTimes(zone);
    const statusNode = $("manage-status");

    const openReschedule = $("reschedule-open");
    if (openReschedule && config.offering_id && config.slug) {
      const zoneSelect = $("tz");
      fillZones(zoneSelect, zone);
      let chosen = null;
      const picker = SlotPicker({
        slug: config.slug,
        offeringId: config.offering_id,
        zoneSelect,
        onPick: (slot, when) => {
          chosen = slot;
          $("reschedule-choice").textContent = M.selected.replace("{when}", when);
          $("reschedule-confirm").hidden = false;
          $("reschedule-submit").focus();
        },
      });
      openReschedule.addEventListener("click", () => {
        $("reschedule-panel").hidden = false;
        openReschedule.hidden = true;
        picker.load();
      });
      zoneSelect.addEventListener("change", () => picker.load());
      $("reschedule-submit").addEventListener("click", async () => {
        if (!chosen) return;
        show($("reschedule-error"), "");
        try {
          await Checkout.postJSON(`${API}/bookings/${config.booking_id}/reschedule`, {
            manage_token: token, start: chosen.start,
          });
          show(statusNode, M.rescheduled);
          window.location.reload();
        } catch (err) {
          if (err.status === 409) {
            show($("reschedule-error"), M.slot_taken);
            $("reschedule-confirm").hidden = true;
            chosen = null;
            picker.load();
          } else {
            show($("reschedule-error"), err.message || M.generic);
          }
        }
      });
    }

    const openCancel = $("cancel-open");
    if (openCancel) {
      openCancel.addEventListener("click", () => {
        $("cancel-confirm").hidden = false;
        openCancel.hidden = true;
        $("cancel-submit").focus();
      });
      $("cancel-keep").addEventListener("click", () => {
        $("cancel-confirm").hidden = true;
        openCancel.hidden = false;
        openCancel.focus();
      });
      $("cancel-submit").addEventListener("click", async () => {
        show($("cancel-error"), "");
        $("cancel-submit").disabled = true;
        try {
          await Checkout.postJSON(`${API}/bookings/${config.booking_id}/cancel`, {
            manage_token: token,
          });
          show(statusNode, M.cancelled);
          window.location.reload();
        } catch (err) {
          show($("cancel-error"), err.message || M.generic);
          $("cancel-submit").disabled = false;
        }
      });
    }
  }

  if (config.page === "book") bookingPage();
  else if (config.page === "manage") managePage();
})();
