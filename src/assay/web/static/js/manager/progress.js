// The overview's "Work by stage": per pipeline stage the tasks waiting and in progress, the
// tasks completed (and canceled, failed), and completions per day as a sparkline (uPlot) with
// its numbers in a table. From GET /projects/{id}/progress.

import { api, css, el } from "/static/js/api.js";
import { humanMessage } from "/static/js/errors.js";
import uPlot from "/static/vendor/uplot/uPlot.esm.js";

const DAY = 86400;

export function progressCard(project) {
  css("/static/vendor/uplot/uPlot.min.css");
  css("/static/css/progress.css");
  const body = el("div", { class: "stage-progress", "aria-busy": "true" },
    el("div", { class: "progress skeleton", "aria-hidden": "true" }));
  const card = el("section", { class: "card", "aria-labelledby": "stage-progress-title" },
    el("h2", { class: "card-title", id: "stage-progress-title" }, "Work by stage"), body);
  api(`/projects/${encodeURIComponent(project.id)}/progress`).then(
    (progress) => fill(body, progress),
    (error) => body.replaceChildren(el("p", { class: "muted" }, `Could not load the stage counts: ${humanMessage(error)}`)),
  );
  return card;
}

function fill(body, progress) {
  body.removeAttribute("aria-busy");
  const n = (value) => Number(value || 0).toLocaleString();
  const rows = progress.stages.map((stage) => el("tr", { "data-stage": stage.name },
    el("td", {}, el("strong", {}, stage.name), " ", el("span", { class: "muted small" }, stage.kind)),
    el("td", {}, n(stage.waiting)), el("td", {}, n(stage.in_progress))));
  const statuses = progress.statuses;
  const table = el("table", { class: "table compact", "aria-label": "Tasks by stage" },
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Stage"),
      el("th", { scope: "col" }, "Waiting"), el("th", { scope: "col" }, "In progress"))),
    el("tbody", {}, rows),
    el("tfoot", {}, el("tr", {}, el("td", {}, el("strong", {}, "Completed")),
      el("td", { colspan: 2, "data-status": "completed" }, n(statuses.completed),
        statuses.error ? el("span", { class: "muted small" }, ` · ${n(statuses.error)} failed`) : null,
        statuses.canceled ? el("span", { class: "muted small" }, ` · ${n(statuses.canceled)} canceled`) : null))));
  const days = progress.throughput;
  const total = days.reduce((sum, day) => sum + day.completed, 0);
  const spark = el("div", { class: "sparkline", "aria-hidden": "true" });
  const numbers = el("details", { class: "chart-data" }, el("summary", {}, "Completed per day"),
    el("table", { class: "table compact", "aria-label": "Completed per day" },
      el("tbody", {}, days.map((day) => el("tr", {}, el("td", {}, day.day), el("td", {}, n(day.completed)))))));
  const trend = el("figure", { class: "throughput", role: "group", "aria-label": "Throughput" },
    el("figcaption", {}, `${n(total)} completed in the last ${days.length} days`,
      el("span", { class: "muted small" }, ` · ${n(days.at(-1)?.completed)} today`)),
    spark, numbers);
  body.replaceChildren(el("div", { class: "stage-progress-grid" }, table, trend));
  requestAnimationFrame(() => drawSparkline(spark, days));
}

function drawSparkline(node, days) {
  if (!node.isConnected) return;
  const xs = days.map((day) => Date.parse(`${day.day}T00:00:00Z`) / 1000 + DAY / 2);
  const ys = days.map((day) => day.completed);
  const max = Math.max(1, ...ys);
  new uPlot({
    width: Math.max(node.clientWidth, 160),
    height: 56,
    legend: { show: false },
    cursor: { show: false },
    select: { show: false },
    scales: { x: { time: false }, y: { range: () => [0, max * 1.1] } },
    axes: [{ show: false }, { show: false }],
    series: [{}, { stroke: "#3d5afe", width: 2, fill: "#3d5afe22", points: { show: false } }],
  }, [xs, ys], node);
}
