/*
 * The quote editor's live totals (issue 15): as lines and milestones change, the
 * total excluding VAT, the VAT and the total, and what the milestones add up to,
 * in the page's language (Intl.NumberFormat), with a sentence when they do not
 * match. Computed as the server computes it (webapp.quotes.content): integer
 * minor units, VAT rounded half up, a percentage a share of the total; the
 * server checks again on saving.
 */
(function () {
  "use strict";

  const form = document.getElementById("quote-form");
  const box = document.getElementById("quote-totals");
  if (!form || !box) return;
  const data = box.dataset;
  const locale = document.documentElement.lang || "fr";
  const euCountries = JSON.parse(data.euCountries || "[]");
  const field = (name) => form.elements.namedItem(name);
  const value = (name) => (field(name) ? field(name).value.trim() : "");

  /** "1 200,50" or "1200.5" → 120050 (2 decimals); null when unreadable, 0 when empty. */
  function minor(text, digits) {
    const clean = text.replace(/[\s\u00a0\u202f]/g, "").replace(",", ".");
    if (!clean) return 0;
    const match = /^(\d+)(?:\.(\d*))?$/.exec(clean);
    if (!match || (match[2] || "").length > digits) return null;
    const cents = (match[2] || "").padEnd(digits, "0");
    return Number(match[1]) * 10 ** digits + (digits ? Number(cents) : 0);
  }

  /** "33,33" → 3333 basis points; null when unreadable. */
  function basisPoints(text) {
    return minor(text, 2);
  }

  function halfUp(numerator, denominator) {
    return Math.floor((2 * numerator + denominator) / (2 * denominator));
  }

  function formatter() {
    const currency = (value("currency") || "eur").toUpperCase();
    try {
      const format = new Intl.NumberFormat(locale, { style: "currency", currency });
      const digits = format.resolvedOptions().maximumFractionDigits;
      return { digits, text: (amount) => format.format(amount / 10 ** digits) };
    } catch (e) {
      return { digits: 2, text: (amount) => (amount / 100).toFixed(2) + " " + currency };
    }
  }

  function vatRate() {
    const reverse = field("client_is_business") && field("client_is_business").checked
      && value("client_vat_number") && value("client_country").toUpperCase() !== "FR"
      && euCountries.includes(value("client_country").toUpperCase());
    return reverse ? 0 : Number(data.vatRateBp || 0);
  }

  function rows(prefix, keys) {
    const out = [];
    for (let i = 0; field(`${prefix}-${i}-${keys[0]}`); i += 1) {
      const row = {};
      keys.forEach((k) => { row[k] = value(`${prefix}-${i}-${k}`); });
      if (Object.values(row).some(Boolean)) out.push(row);
    }
    return out;
  }

  function fill(template, values) {
    return Object.keys(values).reduce((text, k) => text.replace(`{${k}}`, values[k]), template);
  }

  function update() {
    const money = formatter();
    const lines = rows("line", ["description", "quantity", "unit"]);
    const milestones = rows("ms", ["title", "amount", "percent"]);
    let unreadable = false;
    let excl = 0;
    lines.forEach((line) => {
      const unit = minor(line.unit, money.digits);
      const quantity = /^\d+$/.test(line.quantity || "1") ? Number(line.quantity || "1") : null;
      if (unit === null || quantity === null) unreadable = true;
      else excl += unit * quantity;
    });
    let fixed = 0;
    let shareBp = 0;
    milestones.forEach((m) => {
      const amount = m.amount ? minor(m.amount, money.digits) : null;
      const percent = m.percent ? basisPoints(m.percent) : null;
      if ((m.amount && amount === null) || (m.percent && percent === null)) unreadable = true;
      if (amount !== null) fixed += amount;
      if (percent !== null) shareBp += percent;
    });
    const rate = vatRate();
    let total;
    let message = "";
    let ok = true;
    if (lines.length) {
      const vat = halfUp(excl * rate, 10000);
      total = excl + vat;
      box.querySelector("[data-total=excl]").textContent = money.text(excl);
      box.querySelector("[data-total=vat]").textContent = money.text(vat);
    } else {
      // Without lines the fixed milestones are the price, VAT included.
      total = fixed;
      const vatPart = total - halfUp(total * 10000, 10000 + rate);
      box.querySelector("[data-total=excl]").textContent = money.text(total - vatPart);
      box.querySelector("[data-total=vat]").textContent = money.text(vatPart);
      if (shareBp) {
        message = data.percentWithoutLines;
        ok = false;
      }
    }
    const given = fixed + halfUp(total * shareBp, 10000);
    box.querySelector("[data-total=total]").textContent = money.text(total);
    box.querySelector("[data-total=milestones]").textContent = money.text(given);
    if (unreadable) {
      message = data.unreadable;
      ok = false;
    } else if (lines.length && milestones.length && fixed * 10000 + total * shareBp !== total * 10000) {
      message = fill(data.mismatch, { given: money.text(given), total: money.text(total) });
      ok = false;
    } else if (!message && milestones.length) {
      message = data.match;
    }
    const status = box.querySelector(".totals-status");
    status.textContent = message;
    status.className = "totals-status " + (ok ? "ok" : "error");
  }

  box.hidden = false;
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
})();
