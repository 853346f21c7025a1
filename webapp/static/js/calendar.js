/*
 * The month calendar of the client pages (issue 15): the days of a month, those
 * with free times enabled and the others greyed, previous/next month, and the
 * chosen day's times beside it, all in the client's time zone. One request to
 * the public slots API per month shown (`from` = the month's first day or today,
 * `to` = its last day; the API takes up to 62 days).
 *
 * Keyboard: the days are one tab stop (a roving tabindex); the arrow keys move
 * a day or a week, Home/End to the start/end of the week, Page Up/Down a month;
 * Enter or Space picks the day. Greyed days stay focusable (aria-disabled) so
 * the arrows never jump.
 *
 * `window.AcompteCalendar.SlotPicker({slug, offeringId, zoneSelect, onPick,
 * locale, messages})` → `{load}`; booking.js uses it on the booking page and the
 * "manage my booking" page. `onPick(slot, when)` gets the API's slot and its
 * date and time in words.
 */
(function () {
  "use strict";

  const API = "/api/v1/public";
  const MONTHS_AHEAD = 12;

  /** "2025-03-30" in `zone` for a Date. */
  function dayKey(date, zone) {
    return new Intl.DateTimeFormat("en-CA", {
      timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
    }).format(date);
  }

  /** A day key as a Date at noon UTC (formatting it in UTC gives that day). */
  function utcDay(key) {
    const [y, m, d] = key.split("-").map(Number);
    return new Date(Date.UTC(y, m - 1, d, 12));
  }

  function keyOf(date) {
    return date.toISOString().slice(0, 10);
  }

  function addDays(key, days) {
    const date = utcDay(key);
    date.setUTCDate(date.getUTCDate() + days);
    return keyOf(date);
  }

  /** The first day of the month `months` after the month of `key`. */
  function addMonths(key, months) {
    const [y, m] = key.split("-").map(Number);
    return keyOf(new Date(Date.UTC(y, m - 1 + months, 1, 12)));
  }

  function monthStart(key) {
    return key.slice(0, 8) + "01";
  }

  function monthEnd(key) {
    return addDays(addMonths(key, 1), -1);
  }

  /** 1 (Monday) … 7 (Sunday), as Intl.Locale's weekInfo counts. */
  function isoWeekday(key) {
    return utcDay(key).getUTCDay() || 7;
  }

  function firstDayOfWeek(locale) {
    try {
      const info = new Intl.Locale(locale);
      const week = info.getWeekInfo ? info.getWeekInfo() : info.weekInfo;
      if (week && week.firstDay) return week.firstDay;
    } catch (e) {
      // older browsers: Monday, as in France
    }
    return 1;
  }

  function fill(template, values) {
    return Object.keys(values).reduce((text, k) => text.replace(`{${k}}`, values[k]), template || "");
  }

  function SlotPicker({ slug, offeringId, zoneSelect, onPick, locale, messages }) {
    const M = messages || {};
    const days = document.getElementById("days");
    const times = document.getElementById("times");
    const status = document.getElementById("slots-status");
    const weekStart = firstDayOfWeek(locale);
    const fmt = (options) => new Intl.DateTimeFormat(locale, Object.assign({ timeZone: "UTC" }, options));
    const monthTitle = fmt({ month: "long", year: "numeric" });
    const longDay = fmt({ weekday: "long", day: "numeric", month: "long", year: "numeric" });
    const weekdayShort = fmt({ weekday: "short" });
    const weekdayLong = fmt({ weekday: "long" });

    let month = null; // the first day of the month shown
    let slotsByDay = new Map();
    let chosenDay = null;
    let focusKey = null;
    let request = 0;
    let firstLoad = true;
    let built = false;
    let zoneWarning = "";

    /** The zone typed or chosen, when it is one of the list's; else the last good one. */
    function zone() {
      const typed = zoneSelect.value.trim();
      const list = zoneSelect.list;
      const known = list ? Boolean(list.querySelector(`option[value="${CSS.escape(typed)}"]`)) : Boolean(typed);
      if (known) {
        zoneSelect.dataset.zone = typed;
        return typed;
      }
      const good = zoneSelect.dataset.zone || "UTC";
      zoneSelect.value = good;
      if (typed) zoneWarning = fill(M.unknown_zone, { zone: typed });
      return good;
    }

    function today() {
      return dayKey(new Date(), zone());
    }

    function formatTime(date) {
      return new Intl.DateTimeFormat(locale, { timeZone: zone(), hour: "2-digit", minute: "2-digit" })
        .format(date);
    }

    function formatWhen(date) {
      return new Intl.DateTimeFormat(locale, {
        timeZone: zone(), dateStyle: "full", timeStyle: "short",
      }).format(date) + " (" + zone() + ")";
    }

    // --- the month grid -------------------------------------------------------------

    function navButton(name, label, text, step) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "month-nav";
      button.dataset.nav = name;
      button.setAttribute("aria-label", label);
      button.textContent = text;
      button.addEventListener("click", () => show(addMonths(month, step)));
      return button;
    }

    function build() {
      const head = document.createElement("div");
      head.className = "month-head";
      const title = document.createElement("h3");
      title.className = "month-title";
      title.id = "month-title";
      title.setAttribute("aria-live", "polite");
      head.append(
        navButton("prev", M.previous_month || "Previous month", "‹", -1),
        title,
        navButton("next", M.next_month || "Next month", "›", 1),
      );
      const table = document.createElement("table");
      table.className = "month-grid";
      table.setAttribute("aria-labelledby", "month-title");
      const headRow = table.createTHead().insertRow();
      for (let i = 0; i < 7; i += 1) {
        // 2024-01-01 was a Monday: day i of the week from weekStart.
        const sample = utcDay(addDays("2024-01-01", (weekStart - 1 + i) % 7));
        const th = document.createElement("th");
        th.scope = "col";
        th.abbr = weekdayLong.format(sample);
        th.textContent = weekdayShort.format(sample);
        headRow.append(th);
      }
      table.createTBody();
      table.addEventListener("keydown", onKey);
      days.replaceChildren(head, table);
      days.removeAttribute("role");
      days.classList.add("month");
    }

    function renderGrid() {
      const table = days.querySelector("table.month-grid");
      days.querySelector(".month-title").textContent = monthTitle.format(utcDay(month));
      const body = table.tBodies[0];
      body.replaceChildren();
      const lead = (isoWeekday(month) - weekStart + 7) % 7;
      const last = monthEnd(month);
      const now = today();
      let row = body.insertRow();
      for (let i = 0; i < lead; i += 1) row.insertCell();
      for (let key = month; key <= last; key = addDays(key, 1)) {
        if (row.cells.length === 7) row = body.insertRow();
        const button = document.createElement("button");
        button.type = "button";
        button.dataset.date = key;
        button.textContent = String(Number(key.slice(8)));
        button.tabIndex = -1;
        if (key === now) button.setAttribute("aria-current", "date");
        button.addEventListener("click", () => pickDay(key));
        row.insertCell().append(button);
      }
      while (row.cells.length < 7) row.insertCell();
      const earliest = monthStart(now);
      days.querySelector('[data-nav="prev"]').disabled = month <= earliest;
      days.querySelector('[data-nav="next"]').disabled = month >= addMonths(earliest, MONTHS_AHEAD);
      markDays();
    }

    /** Free days enabled, the others greyed; the chosen one pressed; one tab stop. */
    function markDays() {
      days.querySelectorAll("button[data-date]").forEach((button) => {
        const key = button.dataset.date;
        const free = slotsByDay.has(key);
        const count = free ? slotsByDay.get(key).length : 0;
        button.className = free ? "date day" : "date blank";
        const many = count === 1 ? M.free_time_one : fill(M.free_times_count, { count });
        const words = free ? many : M.no_free_day;
        button.setAttribute("aria-label", `${longDay.format(utcDay(key))}${words ? ", " + words : ""}`);
        if (free) {
          button.removeAttribute("aria-disabled");
          button.setAttribute("aria-pressed", String(key === chosenDay));
        } else {
          button.setAttribute("aria-disabled", "true");
          button.removeAttribute("aria-pressed");
        }
      });
      const target = days.querySelector(`button[data-date="${focusKey}"]`)
        || days.querySelector(`button[data-date="${chosenDay}"]`)
        || days.querySelector("button.day")
        || days.querySelector("button[data-date]");
      days.querySelectorAll("button[data-date]").forEach((b) => { b.tabIndex = b === target ? 0 : -1; });
    }

    function onKey(event) {
      const button = event.target.closest("button[data-date]");
      if (!button) return;
      const key = button.dataset.date;
      const weekday = (isoWeekday(key) - weekStart + 7) % 7;
      const moves = {
        ArrowLeft: () => addDays(key, -1),
        ArrowRight: () => addDays(key, 1),
        ArrowUp: () => addDays(key, -7),
        ArrowDown: () => addDays(key, 7),
        Home: () => addDays(key, -weekday),
        End: () => addDays(key, 6 - weekday),
        PageUp: () => addMonths(key, -1),
        PageDown: () => addMonths(key, 1),
      };
      if (!moves[event.key]) return;
      event.preventDefault();
      let next = moves[event.key]();
      if (event.key === "PageUp" || event.key === "PageDown") {
        // the same day of the other month, or its last day
        const day = Math.min(Number(key.slice(8)), Number(monthEnd(next).slice(8)));
        next = next.slice(0, 8) + String(day).padStart(2, "0");
      }
      moveFocus(next);
    }

    function moveFocus(key) {
      const earliest = monthStart(today());
      if (monthStart(key) < earliest || monthStart(key) > addMonths(earliest, MONTHS_AHEAD)) return;
      focusKey = key;
      // show() draws the other month's grid before it waits for its free times
      if (monthStart(key) !== month) show(monthStart(key));
      else markDays();
      focusDay(key);
    }

    function focusDay(key) {
      const button = days.querySelector(`button[data-date="${key}"]`);
      if (!button) return;
      days.querySelectorAll("button[data-date]").forEach((b) => { b.tabIndex = b === button ? 0 : -1; });
      button.focus();
    }

    // --- the times of the chosen day ------------------------------------------------

    function pickDay(key) {
      if (!slotsByDay.has(key)) return; // a greyed day: nothing to pick
      focusKey = key;
      renderTimes(key);
      markDays();
    }

    function renderTimes(key) {
      chosenDay = key;
      const slots = slotsByDay.get(key) || [];
      if (!slots.length) {
        times.replaceChildren();
        return;
      }
      const heading = document.createElement("h3");
      heading.className = "times-day";
      heading.textContent = longDay.format(utcDay(key));
      const list = document.createElement("div");
      list.className = "slot-list";
      list.append(...slots.map((slot) => {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "slot";
        button.setAttribute("aria-pressed", "false");
        button.dataset.start = slot.start;
        const start = new Date(slot.start);
        button.textContent = formatTime(start);
        button.setAttribute("aria-label", formatWhen(start));
        button.addEventListener("click", () => {
          times.querySelectorAll("button.slot").forEach((b) => b.setAttribute("aria-pressed", "false"));
          button.setAttribute("aria-pressed", "true");
          onPick(slot, formatWhen(start));
        });
        return button;
      }));
      times.replaceChildren(heading, list);
    }

    // --- loading a month --------------------------------------------------------------

    async function fetchMonth(first) {
      const from = first < today() ? today() : first;
      const url = `${API}/freelancers/${encodeURIComponent(slug)}/offerings/${offeringId}/slots`
        + `?from=${from}&to=${monthEnd(first)}&tz=${encodeURIComponent(zone())}`;
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error((body.error && body.error.message) || M.generic);
      const byDay = new Map();
      (body.slots || []).forEach((slot) => {
        const key = dayKey(new Date(slot.start), zone());
        if (!byDay.has(key)) byDay.set(key, []);
        byDay.get(key).push(slot);
      });
      return byDay;
    }

    /** Show the month starting `first` and load its free times (one request). */
    async function show(first) {
      if (!built) build(); // this picker's own grid and listeners (a new offering: a new picker)
      built = true;
      const mine = ++request;
      month = first;
      slotsByDay = new Map();
      renderGrid();
      status.hidden = false;
      status.textContent = M.loading || "";
      days.setAttribute("aria-busy", "true");
      let byDay;
      try {
        byDay = await fetchMonth(first);
      } catch (err) {
        if (mine === request) {
          status.textContent = err.message === "Failed to fetch" ? M.network : err.message;
          days.removeAttribute("aria-busy");
        }
        return;
      }
      if (mine !== request) return; // a newer request (month, zone or offering) wins
      days.removeAttribute("aria-busy");
      const keys = [...byDay.keys()].sort();
      if (!keys.length && firstLoad && first === monthStart(today())) {
        firstLoad = false; // nothing left this month: open the next one
        return show(addMonths(first, 1));
      }
      firstLoad = false;
      slotsByDay = byDay;
      const keep = keys.includes(chosenDay) ? chosenDay : keys[0];
      if (keep) renderTimes(keep);
      else {
        chosenDay = null;
        times.replaceChildren();
      }
      markDays();
      status.textContent = zoneWarning || (keys.length ? "" : (M.no_slots_month || M.no_slots));
      zoneWarning = "";
    }

    /** (Re)load the month shown, e.g. after the zone changed or a slot was taken. */
    function load() {
      const current = monthStart(today());
      return show(month && month >= current ? month : current);
    }

    return { load };
  }

  window.AcompteCalendar = { SlotPicker, dayKey };
})();
