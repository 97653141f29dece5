// The dashboard's own script: the admin token (kept in this tab's sessionStorage only), the two
// writes (POST with the bearer token and the page's CSRF token), and the fleet table's refresh.
"use strict";

const TOKEN_KEY = "loanapp-admin-token";
const FLEET_REFRESH_MS = 1000;

function showMessage(text, kind) {
  const box = document.getElementById("message");
  box.textContent = text;
  box.className = "message message-" + kind;
  box.hidden = false;
}

function tokenState() {
  const state = document.getElementById("token-state");
  state.textContent = sessionStorage.getItem(TOKEN_KEY) ? "token set for this tab" : "no token in this tab";
}

function setUpToken() {
  const form = document.getElementById("token-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("admin-token");
    if (input.value) {
      sessionStorage.setItem(TOKEN_KEY, input.value);
    }
    input.value = "";
    tokenState();
  });
  document.getElementById("token-forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    tokenState();
  });
  tokenState();
}

async function post(url, body) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) {
    showMessage("Enter the admin token first (top of the page).", "error");
    return null;
  }
  const headers = {
    "Authorization": "Bearer " + token,
    "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content,
  };
  if (body !== null) {
    headers["Content-Type"] = "application/json";
  }
  const response = await fetch(url, {
    method: "POST",
    headers: headers,
    body: body === null ? null : JSON.stringify(body),
    credentials: "same-origin",
  });
  let answer = {};
  try {
    answer = await response.json();
  } catch (error) {
    answer = {error: "the server answered " + response.status + " without a JSON body"};
  }
  return {ok: response.ok, status: response.status, answer: answer};
}

function done(result, what) {
  if (result === null) {
    return;
  }
  if (result.ok) {
    showMessage(what + ": the alias now points at " + result.answer.version.slice(0, 12) + ". Reloading…", "ok");
    window.setTimeout(() => window.location.reload(), 600);
    return;
  }
  const forceBox = document.getElementById("force-box");
  showMessage("Refused (HTTP " + result.status + "): " + (result.answer.error || "no message"), "error");
  if (result.status === 409 && result.answer.gate && forceBox) {
    forceBox.hidden = false;
    document.getElementById("force-reason").focus();
  }
}

function setUpWrites() {
  const promote = document.getElementById("promote-form");
  if (promote) {
    const url = promote.dataset.url;
    const select = document.getElementById("promote-version");
    const version = () => select.value;
    const forceBox = document.getElementById("force-box");
    const forceButton = document.getElementById("force-button");
    promote.addEventListener("submit", async (event) => {
      event.preventDefault();
      done(await post(url, {version: version()}), "Promoted");
    });
    // Forcing answers the gate's refusal of the version selected then: another choice hides it.
    select.addEventListener("change", () => {
      forceBox.hidden = true;
    });
    // Enter in the reason box forces, rather than submitting the form's plain promotion again.
    document.getElementById("force-reason").addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        forceButton.click();
      }
    });
    forceButton.addEventListener("click", async () => {
      const reason = document.getElementById("force-reason").value.trim();
      if (!reason) {
        showMessage("Forcing needs a reason.", "error");
        return;
      }
      done(await post(url, {version: version(), force: true, reason: reason}), "Forced");
    });
  }
  const rollback = document.getElementById("rollback-form");
  if (rollback) {
    rollback.addEventListener("submit", async (event) => {
      event.preventDefault();
      done(await post(rollback.dataset.url, null), "Rolled back");
    });
  }
}

// As the server renders them (pages.py): to the second in UTC; below a second in ms.
function moment(iso) {
  return iso ? new Date(iso).toISOString().slice(0, 19).replace("T", " ") + " UTC" : "";
}

function duration(seconds) {
  return seconds < 1 ? Math.round(seconds * 1000) + " ms" : seconds.toFixed(1) + " s";
}

const FLEET_LABELS = ["Worker", "Status", "Model", "Serves", "Since", "Took", "Predictor", "Last seen",
  "Last update error"];

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  td.dataset.label = FLEET_LABELS[row.cells.length] || "";
  row.appendChild(td);
  return td;
}

function fleetRow(worker) {
  const row = document.createElement("tr");
  row.dataset.worker = worker.worker;
  row.dataset.version = worker.version || "";
  cell(row, worker.worker);
  const status = cell(row, "");
  const badge = document.createElement("span");
  badge.className = "status status-" + worker.status.replace(/ /g, "-");
  badge.textContent = worker.status;
  status.appendChild(badge);
  cell(row, worker.model);
  const serves = cell(row, "");
  const code = document.createElement("code");
  code.textContent = worker.version ? worker.version.slice(0, 12) : "none";
  code.title = worker.version || "";
  serves.appendChild(code);
  cell(row, moment(worker.serving_since));
  cell(row, worker.took_seconds === null ? "" : duration(worker.took_seconds) + " after the alias moved");
  cell(row, worker.predictor || "");
  cell(row, Math.round(worker.seconds_since_seen) + " s ago");
  cell(row, worker.last_error || "");
  return row;
}

function setUpFleet() {
  const section = document.getElementById("fleet");
  if (!section) {
    return;
  }
  const refresh = async () => {
    try {
      const response = await fetch(section.dataset.url, {credentials: "same-origin"});
      if (!response.ok) {
        return;
      }
      const fleet = await response.json();
      const rows = document.getElementById("fleet-rows");
      const fresh = fleet.workers.map(fleetRow);
      if (fresh.length === 0) {
        const empty = document.createElement("tr");
        empty.className = "empty";
        const only = cell(empty, "No predict-API worker has asked this model-server worker yet.");
        only.colSpan = 9;
        only.dataset.label = "";
        fresh.push(empty);
      }
      rows.replaceChildren(...fresh);
      document.getElementById("fleet-answered-by").textContent = fleet.answered_by;
    } catch (error) {
      // The next refresh tries again; the table keeps its last rows meanwhile.
    }
  };
  window.setInterval(refresh, FLEET_REFRESH_MS);
}

function setUpCopy() {
  for (const button of document.querySelectorAll("button.copy")) {
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(button.dataset.copy);
        button.textContent = "copied";
      } catch (error) {
        showMessage("Copy failed; the full hash is in the link's tooltip: " + button.dataset.copy, "error");
      }
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  setUpToken();
  setUpWrites();
  setUpFleet();
  setUpCopy();
});
