// The annotator's workspace: keyboard shortcuts, drag and drop ranking, time spent, focus.
// No inline script anywhere (a strict CSP comes later): the page gives data- attributes and
// this file does the rest. Without it the forms still post and work; this only speeds them up.
(() => {
  "use strict";

  const TEXT_TYPES = new Set(["text", "search", "email", "url", "tel", "password"]);
  const NAV_KEYS = { ArrowDown: 1, ArrowUp: -1, j: 1, k: -1 };
  let shownAt = performance.now();
  let currentTask = null;

  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));
  const taskForm = () => document.getElementById("task-form");
  const taskKind = () => document.getElementById("task")?.dataset.kind || "";
  const completions = () => $$("[data-completion]", taskForm() || document);
  const isBusy = (form) => form.classList.contains("htmx-request");

  function isTextField(el) {
    if (!el || !(el instanceof Element)) return false;
    if (el instanceof HTMLTextAreaElement || el instanceof HTMLSelectElement) return true;
    if (el instanceof HTMLInputElement) return TEXT_TYPES.has(el.type);
    return el.isContentEditable;
  }

  // The shortcut a key press stands for, whatever the keyboard layout or input method
  // (with a Korean IME on, the A key types "ㅁ": fall back to the physical key then).
  function shortcutOf(event) {
    const key = event.key;
    if (key in NAV_KEYS && key.length > 1) return key;
    if (/^[a-z0-9?]$/i.test(key)) return key.toLowerCase();
    const code = event.code || "";
    if (/^Key[A-Z]$/.test(code)) return code.slice(3).toLowerCase();
    if (/^(Digit|Numpad)[0-9]$/.test(code)) return code.slice(-1);
    return key;
  }

  // --- a task appears --------------------------------------------------------------------

  function taskAppeared() {
    const task = document.getElementById("task");
    if (!task || task === currentTask) return;
    currentTask = task;
    const spent = $("[data-time-spent]", task);
    shownAt = performance.now() - (Number(spent?.value) || 0);
    reasonUpdate();
    lockAppeared(task);
    handlerOf(task.dataset.kind).appeared?.(task);
    focusFirst(task);
    task.dataset.ready = "true"; // the keyboard is live (browser tests wait for this)
    performance.mark("workspace:task-ready"); // the browser benchmark reads it
  }

  function focusFirst(task) {
    if ($("dialog[open]")) return;
    const hasErrors = Boolean($(".errors", task));
    if (hasErrors && task.contains(document.activeElement)) return; // htmx kept the focus
    let target = $("[data-autofocus]", task);
    if (!target) target = handlerOf(task.dataset.kind).focusTarget?.(task);
    if (!target) target = taskForm();
    if (!target) return;
    target.focus({ preventScroll: true });
    if (target instanceof HTMLTextAreaElement && target.value) {
      target.setSelectionRange(target.value.length, target.value.length);
      target.scrollTop = 0;
    }
    const top = $(".prompt", task) || task;
    if (top.getBoundingClientRect().top < 0) top.scrollIntoView({ block: "start" });
  }

  // The first answer the annotator has not done yet (else the first one), by the kind's rule.
  function firstOpenCard(isDone) {
    const cards = completions();
    return cards.find((card) => !isDone(card)) || cards[0];
  }

  // --- time spent: set just before any form of the task is sent -------------------------

  document.addEventListener(
    "submit",
    (event) => {
      const spent = $("[data-time-spent]", event.target);
      if (spent) spent.value = String(Math.max(0, Math.round(performance.now() - shownAt)));
    },
    true,
  );

  // --- rank ------------------------------------------------------------------------------

  const rankCardDone = (card) => Boolean($("[data-rank-input]", card)?.value);

  function rankSet(card, value) {
    const input = $("[data-rank-input]", card);
    if (!input) return;
    input.value = value;
    rankMarksUpdate();
  }

  function rankMarksUpdate() {
    const cards = completions();
    const counts = {};
    for (const card of cards) {
      const value = $("[data-rank-input]", card)?.value;
      if (value) counts[value] = (counts[value] || 0) + 1;
    }
    for (const card of cards) {
      const value = $("[data-rank-input]", card)?.value;
      const mark = $("[data-tie-mark]", card);
      if (mark) mark.hidden = !(value && counts[value] > 1);
      card.classList.toggle("is-ranked", Boolean(value));
    }
  }

  // --- rate ------------------------------------------------------------------------------

  const rateCardDone = (card) => Boolean($("[data-thumb]:checked", card));

  // The 1-5 scale a digit goes to: the one holding the focus, else the card's first unset one.
  function scoreRow(card) {
    const focused = document.activeElement?.closest?.("[data-score]");
    if (focused && card.contains(focused)) return focused;
    const rows = $$("[data-score]", card);
    return rows.find((row) => !$("input:checked", row)) || null;
  }

  function rateCursorUpdate() {
    for (const card of completions()) {
      const next = scoreRow(card);
      for (const row of $$("[data-score]", card)) row.classList.toggle("is-cursor", row === next);
    }
  }

  function check(input) {
    if (!input) return;
    input.checked = true;
    input.dispatchEvent(new Event("change", { bubbles: true }));
  }

  // --- moving between completions --------------------------------------------------------

  function move(from, step) {
    const cards = completions();
    if (!cards.length) return;
    const index = cards.indexOf(from);
    const next = index < 0 ? (step > 0 ? 0 : cards.length - 1) : index + step;
    const card = cards[Math.max(0, Math.min(cards.length - 1, next))];
    card.focus();
    card.scrollIntoView({ block: "nearest" });
  }

  // --- reason box (none acceptable, cannot judge) ----------------------------------------

  function reasonUpdate() {
    const form = taskForm();
    const reason = form && $("[data-reason]", form);
    if (!reason) return;
    reason.required = Boolean($("[data-needs-reason]:checked", form));
  }

  function toggleShortcut(input, form) {
    if (input.type === "checkbox") {
      input.checked = !input.checked;
    } else if (input.checked && input.dataset.needsReason !== undefined) {
      input.checked = false; // pressing N or C again goes back to the plain verdict
      const plain = $(`input[name="${input.name}"]:not([data-needs-reason])`, form);
      if (plain) plain.checked = true;
    } else {
      input.checked = true;
    }
    input.dispatchEvent(new Event("change", { bubbles: true }));
    if (input.checked && input.dataset.needsReason !== undefined) $("[data-reason]", form)?.focus();
  }

  // --- the keyboard ----------------------------------------------------------------------

  function openHelp() {
    const dialog = document.getElementById("shortcut-help");
    if (dialog && !dialog.open) dialog.showModal();
  }

  function openSkip() {
    const skip = $("[data-skip]");
    if (!skip) return;
    skip.open = true;
    $("[data-skip-reason]", skip)?.focus();
  }

  function onEnter(event, form) {
    const target = event.target;
    if (event.ctrlKey || event.metaKey) {
      const own = target.closest?.("form");
      const chosen = own && own.method !== "dialog" ? own : form;
      if (!chosen || isBusy(chosen)) return;
      event.preventDefault();
      chosen.requestSubmit();
      return;
    }
    if (!form || target instanceof HTMLTextAreaElement) return;
    if (target.closest?.("button, a, summary, select, dialog")) return; // their own Enter
    if (target instanceof HTMLInputElement && target.form !== form) return; // skip form
    event.preventDefault();
    if (!isBusy(form)) form.requestSubmit();
  }

  function onEscape(event) {
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) {
      target.blur();
      const card = target.closest("[data-completion]");
      (card || taskForm())?.focus();
      event.preventDefault();
      return;
    }
    const skip = $("[data-skip][open]");
    if (skip) {
      skip.open = false;
      event.preventDefault();
    }
  }

  function onRankKey(key, card, event) {
    if (/^[1-9]$/.test(key)) {
      card = card || completions().find((c) => !rankCardDone(c));
      if (!card) return false;
      rankSet(card, key);
      move(card, 1);
      return true;
    }
    if (key === "Backspace" || key === "Delete" || key === "0") {
      if (!card) return false;
      rankSet(card, "");
      return true;
    }
    if (key in NAV_KEYS) {
      const onRadio = event.target instanceof HTMLInputElement && event.target.type === "radio";
      if (onRadio && key.startsWith("Arrow")) return false;
      move(card, NAV_KEYS[key]);
      return true;
    }
    return false;
  }

  function onRateKey(key, card, event) {
    const onCard = event.target === card;
    if (key in NAV_KEYS && (onCard || !key.startsWith("Arrow") || !card)) {
      move(card, NAV_KEYS[key]);
      return true;
    }
    card = card || completions()[0];
    if (!card) return false;
    if (key === "u" || key === "d") {
      check($(`[data-thumb="${key === "u" ? "up" : "down"}"]`, card));
      if (!card.contains(document.activeElement)) card.focus();
      rateCursorUpdate();
      return true;
    }
    if (/^[1-5]$/.test(key)) {
      const row = scoreRow(card);
      if (!row) return false;
      check($(`input[value="${key}"]`, row));
      if (!card.contains(document.activeElement) || row.contains(document.activeElement)) {
        card.focus();
      }
      rateCursorUpdate();
      if (!scoreRow(card)) move(card, 1);
      rateCursorUpdate();
      return true;
    }
    return false;
  }

  // --- the kinds: one handler per task kind (labeling/kinds/<kind>.py names the same kind) --
  // Each may give appeared(task): a task of the kind is shown; focusTarget(task): what takes
  // the focus when nothing has data-autofocus; onKey(key, card, event): a key no shortcut of
  // every task took, true when it handled it. The typed kinds need none of them.

  const KIND_HANDLERS = {
    write: {},
    answer: {},
    rank: {
      appeared: rankMarksUpdate,
      focusTarget: () => firstOpenCard(rankCardDone),
      onKey: onRankKey,
    },
    compare: {
      focusTarget: (task) => $("[data-choices] input:checked", task),
    },
    rate: {
      appeared: rateCursorUpdate,
      focusTarget: () => firstOpenCard(rateCardDone),
      onKey: onRateKey,
    },
    edit: {},
    continue: {},
  };
  const handlerOf = (kind) => KIND_HANDLERS[kind] || {};

  document.addEventListener("keydown", (event) => {
    if (event.isComposing || event.defaultPrevented) return;
    if (event.keyCode === 229 && isTextField(event.target)) return; // an IME is composing
    if ($("dialog[open]")) return; // the dialog handles its own keys (Esc closes it)
    const form = taskForm();
    if (event.key === "Enter") return onEnter(event, form);
    if (event.key === "Escape") return onEscape(event);
    if (event.ctrlKey || event.metaKey || event.altKey || isTextField(event.target)) return;
    const key = shortcutOf(event);
    if (key === "?") {
      event.preventDefault();
      openHelp();
      return;
    }
    if (key === "g") {
      const guidelines = $("[data-guidelines]");
      if (guidelines) guidelines.open = !guidelines.open;
      return;
    }
    if (key === "m") {
      $("[data-text-view-toggle]")?.click(); // rendered or raw texts (static/js/text_view.js)
      return;
    }
    if (!form || event.target.closest?.("[data-skip]")) return;
    if (key === "h") {
      const earlier = $("[data-thread-earlier]", form); // a conversation's folded turns
      if (earlier) earlier.open = !earlier.open;
      return;
    }
    if (key === "s") {
      event.preventDefault();
      openSkip();
      return;
    }
    const shortcut = /^[a-z]$/.test(key) && $(`[data-shortcut="${key}"]`, form);
    if (shortcut) {
      event.preventDefault();
      toggleShortcut(shortcut, form);
      return;
    }
    const card = event.target.closest?.("[data-completion]") || null;
    if (handlerOf(taskKind()).onKey?.(key, card, event)) event.preventDefault();
  });

  document.addEventListener("change", (event) => {
    if (event.target.matches?.("[data-needs-reason], input[name=outcome]")) reasonUpdate();
    if (event.target.matches?.("[data-rank-input]")) rankMarksUpdate();
    if (event.target.closest?.("[data-score]")) rateCursorUpdate();
  });
  document.addEventListener("input", (event) => {
    if (event.target.matches?.("[data-rank-input]")) rankMarksUpdate();
  });
  document.addEventListener("focusin", (event) => {
    if (event.target.closest?.(".rate-item")) rateCursorUpdate();
  });

  document.addEventListener("click", (event) => {
    if (event.target.closest?.("[data-open-help]")) openHelp();
  });

  // --- drag and drop ranking (the number fields stay the source of truth) ---------------
  // A drop moves only the dragged answer, keeping every other tie: dropped onto the middle
  // of an answer, or between two answers of one tie group, it joins that group; dropped
  // anywhere else it gets a rank of its own between the groups around it. Ranks stay 1..k.

  let dragged = null;
  let joins = null; // the answer the dragged one is held over the middle of
  let dropped = false;
  let startPlace = null; // [answer before, answer after] when the drag began

  const rankOf = (card) => Number($("[data-rank-input]", card)?.value) || 0; // 0: unranked

  function neighbours(card) {
    const cards = completions();
    const at = cards.indexOf(card);
    return [cards[at - 1] || null, cards[at + 1] || null];
  }

  // Put the answers in rank order (unranked ones last, as shown), so that the place of a
  // drop says which ranks it falls between. The dragged answer itself is never moved here.
  function rankSort(card) {
    const rank = (c) => rankOf(c) || Number.MAX_SAFE_INTEGER;
    const sorted = completions().sort((a, b) => rank(a) - rank(b)); // stable: ties keep order
    const at = sorted.indexOf(card);
    for (const other of sorted.slice(0, at)) card.before(other);
    for (const other of sorted.slice(at + 1)) card.parentElement.append(other);
  }

  // The tie groups of the answers other than `card`, best first (they are in rank order);
  // an unranked answer is a group of its own where it stands.
  function groupsWithout(card) {
    const groups = [];
    const byRank = new Map();
    for (const other of completions()) {
      if (other === card) continue;
      const rank = rankOf(other);
      if (rank && byRank.has(rank)) {
        byRank.get(rank).push(other);
        continue;
      }
      const group = [other];
      if (rank) byRank.set(rank, group);
      groups.push(group);
    }
    return groups;
  }

  function rankDrop(card) {
    const [before, after] = neighbours(card);
    if (!joins && before === startPlace[0] && after === startPlace[1]) return; // not moved
    const groups = groupsWithout(card);
    const groupOf = (other) => groups.find((group) => group.includes(other));
    if (joins) {
      joins.after(card);
      groupOf(joins).push(card);
    } else if (before && after && groupOf(before) === groupOf(after)) {
      groupOf(before).push(card);
    } else {
      groups.splice(before ? groups.indexOf(groupOf(before)) + 1 : 0, 0, [card]);
    }
    groups.forEach((group, index) => {
      for (const member of group) $("[data-rank-input]", member).value = String(index + 1);
    });
    rankMarksUpdate();
  }

  function joinMark(card) {
    if (joins === card) return;
    joins?.classList.remove("is-drop-target");
    joins = card;
    joins?.classList.add("is-drop-target");
  }

  document.addEventListener("pointerdown", (event) => {
    const handle = event.target.closest?.("[data-drag-handle]");
    const card = handle?.closest("[data-completion]");
    if (card) card.draggable = true; // only the handle starts a drag: text stays selectable
  });
  document.addEventListener("dragstart", (event) => {
    const card = event.target.closest?.("[data-rank-list] [data-completion]");
    if (!card) return;
    dragged = card;
    dropped = false;
    rankSort(card);
    startPlace = neighbours(card);
    card.classList.add("is-dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.completion);
  });
  document.addEventListener("dragover", (event) => {
    if (!dragged) return;
    const list = event.target.closest?.("[data-rank-list]");
    if (list !== dragged.parentElement) return;
    event.preventDefault();
    const over = event.target.closest("[data-completion]");
    if (!over || over === dragged) {
      joinMark(null);
      return;
    }
    const box = over.getBoundingClientRect();
    const y = (event.clientY - box.top) / box.height;
    if (y > 0.25 && y < 0.75) {
      joinMark(over); // onto the answer: a tie with it
      return;
    }
    joinMark(null);
    over.parentElement.insertBefore(dragged, y >= 0.75 ? over.nextSibling : over);
  });
  document.addEventListener("drop", (event) => {
    if (!dragged) return;
    event.preventDefault();
    dropped = true;
  });
  document.addEventListener("dragend", () => {
    if (!dragged) return;
    const card = dragged;
    dragged = null;
    card.classList.remove("is-dragging");
    card.draggable = false;
    if (dropped) {
      rankDrop(card);
    } else {
      // Cancelled, or dropped outside the list: back where it was, ranks untouched.
      const [before, after] = startPlace;
      if (before) before.after(card);
      else if (after) after.before(card);
    }
    joinMark(null);
    card.focus();
  });

  // --- the task's lock: time left, a warning near its end, held longer while worked on ---
  // [data-lock] says when the lock runs out, counted on the server's clock (data-now), so a
  // local clock that is off does not matter. Working on the task (a key, typing, a click in
  // it) asks the server to hold it longer: at most once a minute, sooner once it runs short.

  const LOCK_SHORT_MS = 2 * 60 * 1000;
  const EXTEND_EVERY_MS = 60 * 1000;
  const EXTEND_RETRY_MS = 5 * 1000; // the least time between two requests
  let clockSkew = 0; // the server's clock minus this one's
  let lastExtend = 0; // when the lock was last set (or read, as the task appeared)
  let lastTry = -Infinity;
  let extending = false;

  const lockOf = () => $("#task [data-lock]");
  const lockLeft = (lock) => Date.parse(lock.dataset.expiresAt) - (Date.now() + clockSkew);

  function lockAppeared(task) {
    const lock = $("[data-lock]", task);
    if (!lock) return;
    const serverNow = Date.parse(lock.dataset.now);
    clockSkew = Number.isNaN(serverNow) ? 0 : serverNow - Date.now();
    lastExtend = performance.now(); // the lock was just set or read: no need to ask yet
    lastTry = -Infinity;
    lockShow();
  }

  function lockShow() {
    const lock = lockOf();
    if (!lock) return;
    const left = lockLeft(lock);
    if (Number.isNaN(left)) return;
    let text = lock.dataset.minutesLeft.replace("{n}", String(Math.floor(left / 60000)));
    if (left <= 0) text = lock.dataset.timeUp;
    else if (left < 60000) text = lock.dataset.underAMinute;
    if (lock.textContent !== text) lock.textContent = text;
    const short = left < LOCK_SHORT_MS;
    lock.classList.toggle("is-short", short);
    const warning = $("#task [data-lock-warning]");
    const wanted = short ? lock.dataset.warning : "";
    if (warning && !lock.dataset.refused && warning.textContent !== wanted) {
      warning.textContent = wanted;
    }
  }

  function lockExtend() {
    const lock = lockOf();
    if (!lock || extending || lock.dataset.refused) return;
    const now = performance.now();
    if (now - lastTry < EXTEND_RETRY_MS) return;
    if (lockLeft(lock) >= LOCK_SHORT_MS && now - lastExtend < EXTEND_EVERY_MS) return;
    lastTry = now;
    extending = true;
    const body = new FormData();
    body.set("token", lock.dataset.token);
    const csrf = $("input[name=csrfmiddlewaretoken]", taskForm() || document)?.value || "";
    fetch(lock.dataset.extendUrl, {
      method: "POST",
      body,
      headers: { "X-CSRFToken": csrf },
      credentials: "same-origin",
    })
      .then(async (response) => {
        const answer = await response.json().catch(() => null);
        if (lock !== lockOf() || !answer) return; // another task since, or no JSON (logged out)
        if (response.ok) {
          lastExtend = performance.now();
          lock.dataset.expiresAt = answer.expires_at;
          const serverNow = Date.parse(answer.now);
          if (!Number.isNaN(serverNow)) clockSkew = serverNow - Date.now();
        } else if (answer.detail) {
          lock.dataset.refused = answer.code || "refused"; // say why, and stop asking
          const warning = $("#task [data-lock-warning]");
          if (warning) warning.textContent = answer.detail;
        }
        lockShow();
      })
      .catch(() => {}) // no answer: the next key after the wait tries again
      .finally(() => {
        extending = false;
      });
  }

  setInterval(lockShow, 1000);
  document.addEventListener("keydown", lockExtend, true);
  document.addEventListener("input", lockExtend, true);
  document.addEventListener("pointerdown", (event) => {
    if (event.target.closest?.("#task")) lockExtend();
  });

  // --- preloading: the next task is already on the page ---------------------------------
  // The server sends the task after the current one in an inert <template data-preload>
  // (claimed for the annotator, labeling.services.queue.task_preload). Submitting shows it at
  // once; the submission goes out in the background, and its answer (the current task as the
  // server holds it, and the next one to preload) is reconciled with what is on screen:
  // accepted, the task shown stays as it is and only its lock and counts are brought up to
  // date; refused (or anything else unexpected), the answer replaces it, as an htmx swap
  // would: the refused task with what was entered and why. With no preloaded task the form
  // posts through htmx as before. While a submission is out, another form of the task area
  // is not sent (as hx-sync="this:drop" did): a double press must not submit the task just
  // shown. But once the annotator has worked on that task (a key, a click, typing), its
  // submission is what they meant: it waits, and goes out as soon as the one before is
  // answered (unless that answer replaced the task).

  let preloaded = null; // { token, fragment } of the next task, or null
  let inFlight = false;
  let workedOn = true; // the annotator has worked on the task on screen since it was shown
  let waiting = null; // a submission made while another was out

  const NOT_WORK = new Set(["Enter", "Control", "Shift", "Alt", "Meta", "Tab"]);
  document.addEventListener("keydown", (event) => {
    if (!NOT_WORK.has(event.key)) workedOn = true;
  }, true);
  for (const type of ["input", "pointerdown"]) {
    document.addEventListener(type, (event) => {
      const target = event.target;
      if (!target.closest?.("#task-area")) return;
      if (target.closest("[data-submit], button[type=submit]")) return; // a double click
      workedOn = true;
    }, true);
  }

  const taskArea = () => document.getElementById("task-area");
  const tokenOf = (root) => $("#task-form input[name=token]", root)?.value || "";

  // Take the preload <template> out of `root` (the page, or an answer): false if it has none.
  function preloadTake(root) {
    const template = root && $("template[data-preload]", root);
    if (!template) return false;
    preloaded = { token: template.dataset.token, fragment: template.content };
    template.remove();
    return true;
  }

  // The task's own lock, as the server sets it when the task is shown: a full one from now.
  function lockRestart(root) {
    const lock = $("[data-lock]", root);
    const seconds = Number(lock?.dataset.lockSeconds);
    if (!lock || !seconds) return;
    const serverNow = Date.now() + clockSkew;
    lock.dataset.now = new Date(serverNow).toISOString();
    lock.dataset.expiresAt = new Date(serverNow + seconds * 1000).toISOString();
  }

  function swapIn(area, nodes) {
    area.replaceChildren(nodes);
    window.htmx?.process(area); // the skip form and links of the new task post through htmx
    taskAppeared();
  }

  function preloadShow(form) {
    const area = taskArea();
    const body = new FormData(form);
    const next = preloaded;
    preloaded = null;
    const submitted = document.createDocumentFragment();
    submitted.append(...area.childNodes); // kept as it is, in case no answer comes
    lockRestart(next.fragment);
    swapIn(area, next.fragment);
    workedOn = false;
    inFlight = true;
    area.dataset.pending = "true"; // the submission is out (browser tests wait on this)
    fetch(form.action, {
      method: "POST",
      body,
      credentials: "same-origin",
      headers: { "HX-Request": "true", "HX-Current-URL": location.href },
    })
      .then(async (response) => {
        const redirect = response.headers.get("HX-Redirect"); // logged out meanwhile
        if (redirect) {
          location.href = redirect;
          return;
        }
        if (!response.ok) throw new Error(String(response.status));
        reconcile(await response.text(), next.token);
      })
      .catch(() => {
        // No answer: back to the task submitted, everything entered still in it.
        const shown = document.createDocumentFragment();
        shown.append(...area.childNodes);
        swapIn(area, submitted);
        preloaded = { token: next.token, fragment: shown };
        requestFailed();
      })
      .finally(() => {
        inFlight = false;
        delete area.dataset.pending;
        const again = waiting;
        waiting = null;
        if (again?.isConnected) again.requestSubmit(); // the task it belongs to is still shown
      });
  }

  // The server's answer: the annotator's current task, with the next one to preload.
  function reconcile(html, shownToken) {
    const answer = document.createElement("template");
    answer.innerHTML = html;
    const task = $("#task", answer.content);
    const shown = document.getElementById("task");
    const clean = task && !$(".errors:not([data-request-error]), .unsaved", task);
    if (clean && tokenOf(task) === shownToken && tokenOf(shown) === shownToken) {
      // Accepted, and the task on screen is the one the server now holds for the annotator:
      // it stays as it is (they may be at work in it already); the lock and counts are the
      // server's.
      const lock = $("[data-lock]", shown);
      const theirs = $("[data-lock]", task);
      if (lock && theirs) {
        lock.dataset.expiresAt = theirs.dataset.expiresAt;
        const serverNow = Date.parse(theirs.dataset.now);
        if (!Number.isNaN(serverNow)) clockSkew = serverNow - Date.now();
        lockShow();
      }
      const counts = $(".ws-progress", task);
      if (counts) $(".ws-progress", shown)?.replaceWith(counts);
      if (!preloadTake(answer.content)) preloaded = null;
      return;
    }
    if (!preloadTake(answer.content)) preloaded = null;
    swapIn(taskArea(), answer.content);
  }

  document.addEventListener(
    "submit",
    (event) => {
      const form = event.target;
      if (!(form instanceof HTMLFormElement) || !form.closest("#task-area")) return;
      if (inFlight) {
        event.preventDefault();
        event.stopImmediatePropagation(); // htmx's own listener on the form would post it
        if (workedOn && form.id === "task-form") waiting = form;
        return;
      }
      if (form.id !== "task-form" || !preloaded || !window.fetch) return; // htmx posts it
      event.preventDefault();
      event.stopImmediatePropagation();
      preloadShow(form);
    },
    true,
  );

  // --- the back button never brings back a task already done --------------------------
  // Tasks push no history entries (Back leaves the workspace, as before), the page is never
  // cached (the view says no-store), and a page the browser restores from its back-forward
  // cache asks the server which task is current, and shows that one if it is another.

  window.addEventListener("pageshow", (event) => {
    const shown = document.getElementById("task");
    if (!event.persisted || !shown || inFlight) return;
    fetch(location.href, { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then((response) => (response.ok ? response.text() : Promise.reject(response)))
      .then((html) => reconcile(html, tokenOf(shown)))
      .catch(() => {});
  });

  // --- start -----------------------------------------------------------------------------

  function start() {
    const guidelines = $("[data-guidelines]");
    if (guidelines && window.matchMedia("(max-width: 60rem)").matches) guidelines.open = false;
    preloadTake(taskArea());
    taskAppeared();
  }
  document.addEventListener("htmx:afterSettle", () => {
    if (!preloadTake(taskArea())) preloaded = null;
    taskAppeared();
  });
  // A failed request swaps nothing: say so, and leave everything typed where it is.
  function requestFailed() {
    const note = $("[data-request-error]");
    if (note) note.hidden = false;
  }
  document.addEventListener("htmx:responseError", requestFailed);
  document.addEventListener("htmx:sendError", requestFailed);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
