// The demo page: renders what the stand-ins received and posts what a person does.
// All text reaches the DOM through textContent (never innerHTML), so nothing a person or the
// desk writes can become markup.
"use strict";

const view = {
  state: null,
  latest: null,
  paused: false,
  requester: null,   // Telegram user id of the chat shown
  persona: null,     // Slack user id the page acts as
  line: null,        // the specialists' channel shown
  thread: null,      // {channel, ts, title} of the thread being replied in
  openThreads: new Set(),
};

// --- small DOM helpers -------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

const $ = (id) => document.getElementById(id);

function toast(message) {
  const box = $("toast");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 5000);
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    toast(answer.error || `the demo answered ${response.status}`);
    throw new Error(answer.error || String(response.status));
  }
  return answer;
}

// --- Slack mrkdwn -> DOM ------------------------------------------------------------------------

function unescapeSlack(text) {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

const INLINE = /(\*[^*\n]+\*|_[^_\n]+_|~[^~\n]+~|`[^`\n]+`)/;
const INLINE_TAGS = { "*": "strong", "_": "em", "~": "s", "`": "code" };

function inline(text, into) {
  for (const part of text.split(INLINE)) {
    if (!part) continue;
    const tag = INLINE.test(part) && part.length > 2 ? INLINE_TAGS[part[0]] : null;
    into.append(tag ? el(tag, { text: unescapeSlack(part.slice(1, -1)) }) : unescapeSlack(part));
  }
}

function mrkdwn(text, names) {
  const into = el("span", { class: "mrkdwn" });
  const parts = String(text || "").split(/<([^<>]*)>/);
  parts.forEach((part, index) => {
    if (index % 2 === 0) { inline(part, into); return; }
    const [target, label] = part.split("|", 2);
    if (target.startsWith("@")) {
      into.append(el("span", { class: "mention", text: "@" + (names[target.slice(1)] || target.slice(1)) }));
    } else if (target.startsWith("#")) {
      into.append(el("span", { class: "mention", text: "#" + (label || target.slice(1)) }));
    } else if (target.startsWith("!")) {
      into.append(el("span", { class: "mention", text: "@" + (label || target.slice(1).split("^")[0]) }));
    } else if (/^https?:\/\//.test(target)) {
      into.append(el("a", { href: target, target: "_blank", rel: "noopener", text: unescapeSlack(label || target) }));
    } else {
      into.append(unescapeSlack(label || target));
    }
  });
  return into;
}

function plain(obj) {
  return obj && typeof obj.text === "string" ? obj.text : "";
}

function textObject(obj, names) {
  if (!obj) return "";
  return obj.type === "mrkdwn" ? mrkdwn(obj.text, names) : el("span", { text: plain(obj) });
}

// --- Block Kit -> DOM ---------------------------------------------------------------------------

function renderBlocks(blocks, names, onButton) {
  const box = el("div", { class: "blocks" });
  for (const block of blocks) {
    switch (block.type) {
      case "header":
        box.append(el("h4", { text: plain(block.text) }));
        break;
      case "section": {
        const section = el("div", { class: "section" });
        if (block.text) section.append(el("p", {}, textObject(block.text, names)));
        if (block.fields) {
          const fields = el("div", { class: "fields" });
          for (const field of block.fields) fields.append(el("p", {}, textObject(field, names)));
          section.append(fields);
        }
        box.append(section);
        break;
      }
      case "context":
        box.append(el("p", { class: "context" }, ...(block.elements || []).map((e) => textObject(e, names))));
        break;
      case "divider":
        box.append(el("hr"));
        break;
      case "actions": {
        const row = el("div", { class: "actions" });
        for (const element of block.elements || []) {
          if (element.type !== "button") continue;
          row.append(el("button", {
            type: "button",
            class: `slack-button ${element.style || ""}`,
            text: plain(element.text),
            onclick: onButton ? () => onButton(element) : null,
          }));
        }
        box.append(row);
        break;
      }
      default:
        break;
    }
  }
  return box;
}

// --- Slack channels -----------------------------------------------------------------------------

const REACTIONS = { white_check_mark: "✅", x: "❌", lock: "🔒", no_entry_sign: "🚫", eyes: "👀" };

function author(message, names) {
  if (message.bot) return "Helpdesk";
  return names[message.user] || message.user;
}

function slackMessage(channel, message, names, inThread) {
  const item = el("li", { class: "slack-message" });
  item.append(el("div", { class: "author" },
    el("strong", { text: author(message, names) }),
    message.bot ? el("span", { class: "app", text: "APP" }) : null,
    message.edited ? el("span", { class: "edited", text: "(edited)" }) : null));
  const click = (button) => clickButton(channel, message.ts, button);
  // People's messages carry rich_text blocks that say what their text says; the app's are Block Kit.
  if (message.bot && message.blocks.length) item.append(renderBlocks(message.blocks, names, click));
  else if (message.text) item.append(el("p", {}, mrkdwn(message.text, names)));
  for (const file of message.files) {
    item.append(el("figure", { class: "file" },
      el("img", { src: `/files/slack/${encodeURIComponent(file.id)}`, alt: file.name }),
      el("figcaption", { text: file.name })));
  }
  if (message.reactions.length) {
    item.append(el("p", { class: "reactions" }, ...message.reactions.map((name) => el("span", {
      class: "reaction", title: `:${name}:`, "aria-label": `reaction ${name}`, text: REACTIONS[name] || `:${name}:`,
    }))));
  }
  if (inThread) return item;
  const replies = message.replies || [];
  const open = view.openThreads.has(message.ts);
  const title = message.blocks.length ? plain(message.blocks[0].text) : message.text.slice(0, 40);
  item.append(el("div", { class: "thread-bar" },
    replies.length ? el("button", {
      type: "button", class: "link",
      text: open ? "Hide replies" : `💬 ${replies.length} ${replies.length === 1 ? "reply" : "replies"}`,
      onclick: () => { toggleThread(message.ts); },
    }) : null,
    el("button", {
      type: "button", class: "link", text: "Reply in thread",
      onclick: () => startThread(channel, message.ts, title),
    })));
  if (open) {
    const thread = el("ol", { class: "thread", "aria-label": "Thread" });
    for (const reply of replies) thread.append(slackMessage(channel, reply, names, true));
    for (const note of ephemeralsFor(channel, message.ts)) thread.append(note);
    item.append(thread);
  }
  return item;
}

function ephemeralsFor(channel, threadTs) {
  const state = view.state;
  return state.ephemerals
    .filter((e) => e.user === view.persona && e.channel === channel && (e.thread_ts || "") === (threadTs || ""))
    .map((e) => {
      const item = el("li", { class: "slack-message ephemeral" });
      item.append(el("p", { class: "only-you", text: "Only visible to you" }));
      if (e.blocks.length) item.append(renderBlocks(e.blocks, state.names, null));
      else item.append(el("p", {}, mrkdwn(e.text, state.names)));
      return item;
    });
}

function renderChannel(list, channel) {
  const state = view.state;
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const items = channel.messages.map((m) => slackMessage(channel.id, m, state.names, false));
  // Replies of closed threads still show their ephemerals in the channel, like Slack does.
  for (const message of channel.messages) {
    if (!view.openThreads.has(message.ts)) items.push(...ephemeralsFor(channel.id, message.ts));
  }
  items.push(...ephemeralsFor(channel.id, ""));
  if (!items.length) items.push(el("li", { class: "empty", text: "No messages yet." }));
  list.replaceChildren(...items);
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function toggleThread(ts) {
  if (view.openThreads.has(ts)) view.openThreads.delete(ts);
  else view.openThreads.add(ts);
  render();
}

function startThread(channel, ts, title) {
  view.thread = { channel, ts, title };
  view.openThreads.add(ts);
  $("thread-form").hidden = false;
  $("thread-target").textContent = `Thread: ${title}`;
  render();
  $("thread-text").focus();
}

async function clickButton(channel, ts, button) {
  const answer = await post("/slack/click", {
    user: view.persona, channel, ts, action_id: button.action_id, value: button.value || "",
    label: plain(button.text),
  });
  if (answer.view) openModal(answer.view);
}

// --- modals -------------------------------------------------------------------------------------

let modalView = null;

function inputElement(block) {
  const element = block.element || {};
  const id = `modal-${block.block_id}`;
  if (element.type === "static_select") {
    const select = el("select", { id, name: block.block_id });
    for (const option of element.options || []) {
      const node = el("option", { value: option.value, text: plain(option.text) });
      if (element.initial_option && element.initial_option.value === option.value) node.selected = true;
      select.append(node);
    }
    return select;
  }
  const attrs = { id, name: block.block_id };
  if (element.max_length) attrs.maxlength = element.max_length;
  return element.multiline ? el("textarea", attrs) : el("input", attrs);
}

function openModal(modal) {
  modalView = modal;
  const names = view.state.names;
  $("modal-title").textContent = plain(modal.title);
  $("modal-submit").textContent = plain(modal.submit) || "Submit";
  $("modal-close").textContent = plain(modal.close) || "Cancel";
  const body = [];
  for (const block of modal.blocks) {
    if (block.type !== "input") { body.push(renderBlocks([block], names, null)); continue; }
    const label = plain(block.label) + (block.optional ? " (optional)" : "");
    body.push(el("label", { class: "field", for: `modal-${block.block_id}` },
      el("span", { text: label }),
      inputElement(block),
      el("span", { class: "error", id: `error-${block.block_id}` })));
  }
  $("modal-body").replaceChildren(...body);
  $("modal").showModal();
}

async function submitModal(event) {
  event.preventDefault();
  const values = {};
  for (const block of modalView.blocks) {
    if (block.type === "input") values[block.block_id] = $(`modal-${block.block_id}`).value;
  }
  const answer = await post("/slack/submit", { user: view.persona, view_id: modalView.id, values });
  const errors = Object.entries(answer.errors || {});
  for (const block of modalView.blocks) {
    const slot = document.getElementById(`error-${block.block_id}`);
    if (slot) slot.textContent = "";
  }
  if (!errors.length) { $("modal").close(); return; }
  for (const [blockId, message] of errors) {
    const slot = document.getElementById(`error-${blockId}`);
    if (slot) slot.textContent = message;
  }
}

// --- Telegram -----------------------------------------------------------------------------------

const TG_TAGS = { bold: "strong", italic: "em", underline: "u", strikethrough: "s", code: "code", pre: "pre" };

function telegramText(text, entities) {
  const box = el("p", { class: "tg-text" });
  let at = 0;
  const sorted = [...entities].sort((a, b) => a.offset - b.offset);
  for (const entity of sorted) {
    if (entity.offset < at) continue;  // nested entities: the outer one is enough here
    box.append(text.slice(at, entity.offset));
    const part = text.slice(entity.offset, entity.offset + entity.length);
    const href = entity.type === "text_link" ? entity.url : entity.type === "url" ? part : "";
    if (href && /^https?:\/\//.test(href)) {
      box.append(el("a", { href, target: "_blank", rel: "noopener", text: part }));
    } else {
      box.append(TG_TAGS[entity.type] ? el(TG_TAGS[entity.type], { text: part }) : part);
    }
    at = entity.offset + entity.length;
  }
  box.append(text.slice(at));
  return box;
}

function telegramMessage(requester, message) {
  const item = el("li", { class: `tg-message ${message.mine ? "mine" : "bot"}` });
  if (message.photo) {
    item.append(el("img", { src: `/files/telegram/${encodeURIComponent(message.photo)}`, alt: "photo" }));
  }
  if (message.contact) item.append(el("p", { class: "contact", text: `📱 ${message.contact}` }));
  if (message.document) item.append(el("p", { class: "document", text: `📄 ${message.document}` }));
  if (message.text) item.append(telegramText(message.text, message.entities));
  const time = new Date(message.date * 1000);
  item.append(el("span", { class: "time", text: time.toTimeString().slice(0, 5) }));
  if (message.buttons.length) {
    const keyboard = el("div", { class: "inline-keyboard" });
    for (const row of message.buttons) {
      keyboard.append(el("div", { class: "row" }, ...row.map((button) => el("button", {
        type: "button", text: button.text,
        onclick: () => tgMove({ kind: "press", message_id: message.id, data: button.data }),
      }))));
    }
    item.append(keyboard);
  }
  return item;
}

function currentRequester() {
  return view.state.requesters.find((r) => r.id === view.requester) || view.state.requesters[0];
}

function renderTelegram() {
  const requester = currentRequester();
  view.requester = requester.id;
  $("requesters").replaceChildren(...view.state.requesters.map((r) => el("button", {
    type: "button", role: "tab", "aria-selected": String(r.id === requester.id),
    text: `${r.name} (${r.language === "uk" ? "українська" : "English"})`,
    onclick: () => { view.requester = r.id; render(); },
  })));
  const list = $("tg-messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const items = requester.chat.messages.map((m) => telegramMessage(requester, m));
  if (!items.length) {
    items.push(el("li", { class: "empty", text: "Say hello, send /start, or just describe the problem." }));
  }
  list.replaceChildren(...items);
  if (atBottom) list.scrollTop = list.scrollHeight;
  $("tg-keyboard").replaceChildren(...requester.chat.keyboard.map((button) => el("button", {
    type: "button", text: button.text,
    onclick: () => button.contact ? tgMove({ kind: "contact" }) : tgMove({ kind: "text", text: button.text }),
  })));
}

function tgMove(move) {
  return post("/telegram", { requester: view.requester, ...move });
}

function readImage(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1]);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

// --- the whole page -----------------------------------------------------------------------------

function renderPeople() {
  const select = $("persona");
  if (select.options.length) return;
  const roles = { operator: "operator", specialist: "specialist", outsider: "not on the desk" };
  for (const person of view.state.people) {
    select.append(el("option", { value: person.id, text: `${person.name} (${roles[person.role]})` }));
  }
  view.persona = select.value;
}

function renderLines() {
  const select = $("line");
  const lines = view.state.lines;
  if (!select.options.length) {
    for (const line of lines) select.append(el("option", { value: line.id, text: `#${line.name}` }));
  }
  if (!view.line) {
    // until someone picks one, show the line that has the latest escalation
    const busy = lines.filter((l) => l.messages.length);
    const newest = busy.sort((a, b) => lastTs(b) - lastTs(a))[0];
    if (newest) select.value = newest.id;
  }
  return lines.find((l) => l.id === select.value) || lines[0];
}

function lastTs(channel) {
  return Math.max(0, ...channel.messages.map((m) => Number(m.ts)));
}

function render() {
  if (!view.state) return;
  renderPeople();
  renderTelegram();
  renderChannel($("ops-messages"), view.state.operators);
  renderChannel($("line-messages"), renderLines());
}

function connect() {
  const events = new EventSource("/events");
  events.onopen = () => { $("live").textContent = "live"; };
  events.onerror = () => { $("live").textContent = "reconnecting…"; };
  events.onmessage = (event) => {
    view.latest = JSON.parse(event.data);
    if (view.paused && view.state) return;
    view.state = view.latest;
    render();
  };
}

function wire() {
  $("persona").addEventListener("change", (e) => { view.persona = e.target.value; render(); });
  $("line").addEventListener("change", (e) => { view.line = e.target.value; render(); });
  $("pause").addEventListener("change", (e) => {
    view.paused = e.target.checked;
    $("paused").hidden = !view.paused;
    if (!view.paused && view.latest) { view.state = view.latest; render(); }
  });
  $("tg-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = $("tg-text");
    if (!input.value.trim()) return;
    await tgMove({ kind: "text", text: input.value });
    input.value = "";
  });
  $("tg-photo").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    e.target.value = "";
    if (!file) return;
    const caption = $("tg-text").value;
    await tgMove({ kind: "photo", image: await readImage(file), caption });
    $("tg-text").value = "";
  });
  $("thread-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = $("thread-text");
    if (!input.value.trim() || !view.thread) return;
    await post("/slack/reply", {
      user: view.persona, channel: view.thread.channel, thread_ts: view.thread.ts, text: input.value,
    });
    input.value = "";
  });
  $("thread-cancel").addEventListener("click", () => {
    view.thread = null;
    $("thread-form").hidden = true;
  });
  $("command-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    await post("/slack/command", { user: view.persona, text: $("command-text").value });
    $("command-text").value = "";
  });
  $("modal-form").addEventListener("submit", submitModal);
  $("modal-close").addEventListener("click", () => $("modal").close());
}

wire();
connect();
