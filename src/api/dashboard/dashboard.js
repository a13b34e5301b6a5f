// trainyard dashboard: live updates. The job list polls GET /v1/jobs; a job page follows
// GET /v1/jobs/{id}/events (Server-Sent Events) and re-fetches its SVG charts; a comparison of
// unfinished jobs re-fetches its chart and rows. Pages read their parameters from data-*
// attributes and write only text (textContent), never markup.
"use strict";
(function () {
  const TERMINAL = ["succeeded", "failed", "cancelled"];

  // Numbers as the server prints them: integers whole, others to 4 significant digits.
  function fmt(x) {
    if (typeof x !== "number") return x == null ? "" : String(x);
    if (Number.isInteger(x)) return String(x);
    const a = Math.abs(x);
    if (a >= 1e-3 && a < 1e5) return String(Number(x.toPrecision(4)));
    return x.toExponential(3);
  }

  function bestText(best) {
    if (!best || typeof best !== "object") return "—";
    const parts = [];
    for (const [key, value] of Object.entries(best)) {
      if (key !== "epoch") parts.push(key + " " + fmt(value));
    }
    if (parts.length === 0) return "—";
    return parts.join(", ") + (best.epoch != null ? " at epoch " + best.epoch : "");
  }

  function setStatus(el, status) {
    if (!el || el.textContent === status) return;
    el.textContent = status;
    el.className = "status status-" + status;
  }

  function setProgress(scope, epoch, epochs) {
    const bar = scope.querySelector("progress[data-field=progress]");
    const text = scope.querySelector("[data-field=epochs]");
    if (bar) {
      bar.max = Math.max(epochs, 1);
      bar.value = Math.min(epoch, epochs);
    }
    if (text) text.textContent = epoch + " / " + epochs;
  }

  function showJob(scope, job) {
    setStatus(scope.querySelector("[data-field=status]"), job.status);
    const progress = job.progress || {};
    setProgress(scope, progress.epoch || 0, progress.epochs || 0);
    const best = scope.querySelector("[data-field=best]");
    if (best) best.textContent = bestText(job.best);
  }

  // Reloads every chart marked data-plot, at most once a second.
  function plotRefresher(scope) {
    const images = Array.from(scope.querySelectorAll("img[data-plot]"));
    let timer = null;
    function now() {
      const url = (src) => {
        const u = new URL(src, location.href);
        u.searchParams.set("v", Date.now());
        return u.pathname + u.search;
      };
      for (const img of images) img.src = url(img.dataset.plot);
    }
    function soon() {
      if (timer === null) timer = setTimeout(() => { timer = null; now(); }, 1000);
    }
    return { now, soon };
  }

  async function getJson(url) {
    const response = await fetch(url, { headers: { accept: "application/json" } });
    if (!response.ok) throw new Error(url + " answered " + response.status);
    return response.json();
  }

  // The job list: new jobs appear at the top, existing rows follow their jobs.
  function initJobList(table) {
    const body = table.tBodies[0];
    const template = document.getElementById("job-row");
    const empty = document.getElementById("no-jobs");
    async function refresh() {
      let page;
      try {
        page = await getJson("/v1/jobs?limit=" + encodeURIComponent(table.dataset.limit));
      } catch (_) {
        return;
      }
      for (const job of page.items.slice().reverse()) {
        let row = body.querySelector('tr[data-job-id="' + CSS.escape(job.id) + '"]');
        if (!row) {
          row = template.content.firstElementChild.cloneNode(true);
          row.dataset.jobId = job.id;
          const name = job.name || job.id;
          const link = row.querySelector("[data-field=link]");
          link.href = "/jobs/" + encodeURIComponent(job.id);
          link.textContent = name;
          row.querySelector("[data-field=id]").textContent = job.id;
          const box = row.querySelector("input[type=checkbox]");
          box.value = job.id;
          box.id = "pick-" + job.id;
          const label = row.querySelector("label");
          label.htmlFor = box.id;
          label.textContent = "Compare " + name;
          row.querySelector("progress").setAttribute("aria-label", "Progress of " + name);
          row.querySelector("[data-field=created]").textContent = String(job.created_at)
            .replace("T", " ")
            .replace(/(\.\d+)?Z$/, " UTC");
          body.prepend(row);
        }
        showJob(row, job);
      }
      if (empty && page.items.length > 0) {
        empty.hidden = true;
        table.hidden = false;
      }
    }
    setInterval(() => { if (!document.hidden) refresh(); }, 1500);
  }

  function showLatest(list, record) {
    if (!list) return;
    const skip = ["epoch", "step", "layers", "duration_ms"];
    list.replaceChildren();
    for (const [key, value] of Object.entries(record)) {
      if (skip.includes(key) || typeof value !== "number") continue;
      const item = document.createElement("div");
      const term = document.createElement("dt");
      term.textContent = key;
      const detail = document.createElement("dd");
      detail.textContent = fmt(value);
      item.append(term, detail);
      list.append(item);
    }
  }

  // A job page: follow the event stream until the job ends.
  function initJob(root) {
    const id = root.dataset.jobId;
    const epochs = Number(root.dataset.epochs);
    const plots = plotRefresher(document);
    const latest = document.querySelector("[data-field=latest]");
    async function refreshJob() {
      try {
        const job = await getJson("/v1/jobs/" + encodeURIComponent(id));
        showJob(root, job);
        const finished = TERMINAL.includes(job.status);
        const downloads = document.getElementById("downloads");
        if (downloads) downloads.hidden = job.status !== "succeeded";
        const pending = document.getElementById("downloads-pending");
        if (pending) pending.hidden = job.status === "succeeded";
        const error = document.querySelector("[data-field=error]");
        if (error && job.error) {
          error.textContent = job.error.code + ": " + job.error.message;
          error.hidden = false;
        }
        if (finished) plots.now();
      } catch (_) {
        // The next event or the end of the stream tries again.
      }
    }
    if (TERMINAL.includes(root.dataset.status)) return;
    const events = new EventSource("/v1/jobs/" + encodeURIComponent(id) + "/events");
    events.addEventListener("epoch", (event) => {
      const record = JSON.parse(event.data);
      setProgress(root, record.epoch, epochs);
      showLatest(latest, record);
      plots.soon();
    });
    events.addEventListener("step", () => plots.soon());
    events.addEventListener("status", (event) => {
      setStatus(root.querySelector("[data-field=status]"), JSON.parse(event.data).status);
      refreshJob();
    });
    events.addEventListener("end", () => {
      events.close();
      refreshJob();
    });
  }

  // A comparison of jobs some of which still train: poll them until all have finished.
  function initComparison(root) {
    const plots = plotRefresher(root);
    const ids = root.dataset.jobs.split(",");
    const timer = setInterval(async () => {
      if (document.hidden) return;
      let open = 0;
      for (const id of ids) {
        const row = root.querySelector('tr[data-job-id="' + CSS.escape(id) + '"]');
        try {
          const job = await getJson("/v1/jobs/" + encodeURIComponent(id));
          if (row) showJob(row, job);
          if (!TERMINAL.includes(job.status)) open += 1;
        } catch (_) {
          open += 1;
        }
      }
      plots.now();
      if (open === 0) clearInterval(timer);
    }, 2000);
  }

  const list = document.querySelector("table[data-live-jobs]");
  if (list) initJobList(list);
  const job = document.querySelector("[data-job-id][data-job-page]");
  if (job) initJob(job);
  const comparison = document.querySelector("[data-live-comparison]");
  if (comparison) initComparison(comparison);
})();
