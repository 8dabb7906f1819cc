// A labeler's quality dashboard (/dashboard/{project_id}[?user=<id>&days=<n>]): tasks per hour,
// time per task, evaluation accuracy and review pass rate over time (uPlot charts, each with its
// numbers in a table for screen readers), and their latest scored evaluation attempts.
// Labelers see their own; the project's managers and reviewers may open anyone's (?user=).
// Also exports the formatting and chart helpers the manager's Quality tab uses.

import { api, css, el, navigate, percent } from "/static/js/api.js";
import uPlot from "/static/vendor/uplot/uPlot.esm.js";

const PERIODS = [[1, "Last 24 hours (hourly)"], [7, "Last 7 days"], [30, "Last 30 days"], [90, "Last 90 days"]];
const COLORS = { blue: "#3d5afe", green: "#1b8a4b", amber: "#b7791f", violet: "#7e57c2" };

export { percent }; // api.js: one unit for rates everywhere
export const decimal = (x, digits = 1) =>
  (x === null || x === undefined ? "—" : x.toLocaleString(undefined, { maximumFractionDigits: digits }));

export function duration(ms) {
  if (ms === null || ms === undefined) return "—";
  const seconds = ms / 1000;
  if (seconds < 60) return `${decimal(seconds, seconds < 10 ? 1 : 0)} s`;
  const minutes = Math.floor(seconds / 60);
  const rest = Math.round(seconds - minutes * 60);
  return rest ? `${minutes} min ${rest} s` : `${minutes} min`;
}

// A stat card: a big value, a label, an optional detail line.
export function stat(label, value, detail) {
  return el("div", { class: "card stat" },
    el("span", { class: "stat-value" }, value),
    el("span", { class: "stat-label muted" }, label),
    detail ? el("span", { class: "stat-detail muted small" }, detail) : null);
}

// A chart of one series over time. Returns {node, mount(), destroy()}: mount() draws it once the
// node is in the page (uPlot needs the width) and redraws on resize.
// kind "bars" | "line"; `format` labels the y axis and the data table; `range` fixes the y axis.
export function timeChart({ title, unit, starts, values, kind = "line", format = decimal, range, color = COLORS.blue }) {
  const id = `chart-${title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  const drawn = values.filter((v) => v !== null && v !== undefined).length;
  const plot = el("div", { class: "chart-plot", "aria-hidden": "true" });
  const rows = starts.map((start, i) => [start, values[i]]).filter(([, v]) => v !== null && v !== undefined);
  const table = el("details", { class: "chart-data" },
    el("summary", {}, "Numbers"),
    rows.length
      ? el("table", { class: "table compact", "aria-label": `${title} by ${unit}` },
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, unit === "hour" ? "Hour (UTC)" : "Day (UTC)"),
          el("th", { scope: "col" }, title))),
        el("tbody", {}, rows.map(([start, v]) => el("tr", {},
          el("td", { class: "nowrap" }, bucketLabel(start, unit)), el("td", {}, format(v))))))
      : el("p", { class: "muted small" }, "No data in this period."));
  const node = el("figure", {
    class: "card chart", id, role: "group", "aria-labelledby": `${id}-title`, "data-points": drawn,
  },
  el("figcaption", { id: `${id}-title`, class: "chart-title" }, title),
  drawn ? plot : el("p", { class: "chart-empty muted" }, "No data in this period yet."),
  table);
  let instance = null;
  let observer = null;
  return {
    node,
    mount() {
      if (!drawn || instance) return;
      const xs = starts.map((s) => Date.parse(s) / 1000);
      const series = {
        label: title,
        stroke: color,
        width: 2,
        spanGaps: true,
        value: (u, v) => format(v),
        points: { show: true, size: 6, fill: color },
      };
      if (kind === "bars") {
        Object.assign(series, { fill: `${color}55`, points: { show: false }, paths: uPlot.paths.bars({ size: [0.7, 48] }) });
      }
      const width = Math.max(plot.clientWidth, 240);
      instance = new uPlot({
        width,
        height: 200,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: {
          x: { time: true },
          y: { range: range ? () => range : (u, min, max) => [0, max > 0 ? max * 1.15 : 1] },
        },
        axes: [
          { stroke: "#5d667a", grid: { stroke: "#eef0f5" } },
          { stroke: "#5d667a", grid: { stroke: "#eef0f5" }, size: 56, values: (u, splits) => splits.map((v) => format(v)) },
        ],
        series: [{}, series],
      }, [xs, values.map((v) => (v === undefined ? null : v))], plot);
      observer = new ResizeObserver(() => {
        const next = Math.max(plot.clientWidth, 240);
        if (instance && Math.abs(next - instance.width) > 2) instance.setSize({ width: next, height: 200 });
      });
      observer.observe(plot);
    },
    destroy() {
      observer?.disconnect();
      instance?.destroy();
      instance = null;
    },
  };
}

function bucketLabel(start, unit) {
  const date = new Date(start);
  const options = unit === "hour"
    ? { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZone: "UTC" }
    : { year: "numeric", month: "short", day: "numeric", timeZone: "UTC" };
  return date.toLocaleString(undefined, options);
}

// A labeler's own view: evaluation results arrive late and in groups (the server decides).
function feedbackNote(board) {
  const wait = board.feedback_delay_seconds;
  const late = wait >= 3600 ? `${decimal(wait / 3600)} hour${wait === 3600 ? "" : "s"}` : duration(wait * 1000);
  return `Your evaluation results count here in groups of ${board.feedback_group_size}`
    + `${wait ? `, at least ${late} after you submit them` : ""}, so no single task's result is shown.`;
}

// The route: /dashboard/{project_id}?user=<id>&days=<n>.
export async function renderDashboard(view, { me, id }) {
  const params = new URLSearchParams(location.search);
  const userId = params.get("user") || me.user.id;
  const days = Number(params.get("days")) || 30;
  return mountDashboard(view, {
    projectId: id,
    userId,
    days,
    me,
    onPeriod: (next) => {
      const url = new URL(location.href);
      url.searchParams.set("days", String(next));
      navigate(url.pathname + url.search, { replace: true });
    },
  });
}

// The dashboard in any container (the page above, or the Quality tab for labelers).
export async function mountDashboard(container, { projectId, userId, days = 30, me, embedded = false, onPeriod }) {
  css("/static/vendor/uplot/uPlot.min.css");
  css("/static/css/manager.css");
  css("/static/css/quality.css");
  const pid = encodeURIComponent(projectId);
  const [project, board] = await Promise.all([
    embedded ? null : api(`/projects/${pid}`),
    api(`/projects/${pid}/quality/labelers/${encodeURIComponent(userId)}?days=${days}`),
  ]);
  const labeler = board.labeler;
  const own = labeler.user_id === me?.user?.id;
  const who = labeler.name || labeler.email;
  const unit = board.bucket;
  const starts = board.series.map((p) => p.start);
  const pick = (key) => board.series.map((p) => p[key]);
  const charts = [
    timeChart({ title: "Tasks per hour", unit, starts, values: pick("tasks_per_hour"), kind: "bars", color: COLORS.blue }),
    timeChart({ title: "Time per task (median)", unit, starts, values: pick("median_time_ms"), format: duration, color: COLORS.violet }),
    timeChart({ title: "Evaluation accuracy", unit, starts, values: pick("evaluation_accuracy"), format: percent, range: [0, 1], color: COLORS.green }),
    timeChart({ title: "Review pass rate", unit, starts, values: pick("review_pass_rate"), format: percent, range: [0, 1], color: COLORS.amber }),
  ];

  const period = el("select", { "aria-label": "Period", class: "period" },
    PERIODS.map(([value, text]) => el("option", { value, selected: value === board.days }, text)));
  period.addEventListener("change", async () => {
    const next = Number(period.value);
    if (onPeriod) onPeriod(next);
    else {
      destroy();
      handle = await mountDashboard(container, { projectId, userId, days: next, me, embedded, onPeriod });
    }
  });

  const title = embedded ? el("h2", {}, own ? "Your quality" : `Quality of ${who}`)
    : el("h1", {}, own ? "Your quality dashboard" : `Quality dashboard: ${who}`);
  const header = el("div", { class: "page-header" },
    el("div", {}, title,
      el("p", { class: "muted project-meta" },
        own ? null : el("span", {}, labeler.email),
        project ? el("span", {}, project.name) : null,
        el("span", {}, `${board.bucket === "hour" ? "Hourly" : "Daily"}, times in UTC`))),
    el("div", { class: "actions" }, period));
  const paused = labeler.status === "paused"
    ? el("div", { class: "card notice warn", role: "status" },
      el("strong", {}, own ? "You are paused in this project" : "Paused in this project"),
      labeler.reason ? el("p", {}, labeler.reason) : null)
    : null;
  const summary = el("div", { class: "stats quality-stats" },
    stat("Tasks submitted", labeler.submitted.toLocaleString(),
      labeler.active_hours ? `in ${labeler.active_hours} active hour${labeler.active_hours === 1 ? "" : "s"}` : null),
    stat("Tasks per hour", decimal(labeler.throughput_per_hour)),
    stat("Time per task", duration(labeler.median_time_ms), labeler.mean_time_ms ? `mean ${duration(labeler.mean_time_ms)}` : null),
    stat("Evaluation accuracy", percent(labeler.evaluation_accuracy),
      labeler.evaluated ? `${labeler.evaluated} evaluated` : null),
    stat("Review pass rate", percent(labeler.review_pass_rate),
      labeler.reviewed ? `${labeler.reviewed} reviewed` : null),
    stat("Audit accept rate", percent(labeler.audit_accept_rate),
      labeler.audited ? `${labeler.audited} audited` : null));
  const attempts = !board.precise_times
    ? el("p", { class: "muted", "data-feedback": "grouped" }, feedbackNote(board))
    : board.recent_attempts.length
    ? el("div", { class: "table-wrap card flush" },
      el("table", { class: "table", "aria-label": "Recent evaluation attempts" },
        el("thead", {}, el("tr", {}, ["When (UTC)", "Score", "Result", board.precise_times ? "Time" : null]
          .filter(Boolean).map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, board.recent_attempts.map((a) => el("tr", {},
          el("td", { class: "nowrap" }, bucketLabel(a.submitted_at, "hour")),
          el("td", {}, percent(a.score)),
          el("td", {}, el("span", { class: `badge ${a.passed ? "ok" : "danger"}` }, a.passed ? "Passed" : "Not passed")),
          board.precise_times ? el("td", {}, duration(a.duration_ms)) : null)))))
    : el("p", { class: "muted" }, "No evaluation task scored yet.");

  const back = !embedded && !own && project
    ? el("nav", { class: "breadcrumb", "aria-label": "Breadcrumb" },
      el("a", { href: `/projects/${pid}?tab=quality` }, project.name), el("span", { "aria-hidden": "true" }, " / "),
      el("span", { "aria-current": "page" }, "Quality dashboard"))
    : null;
  container.replaceChildren(...[
    back,
    header,
    paused,
    summary,
    el("div", { class: "chart-grid" }, charts.map((c) => c.node)),
    el("div", { class: "section-header" },
      el("h2", {}, board.precise_times ? "Recent evaluation attempts" : "Evaluation results")),
    el("p", { class: "muted small" },
      "Some tasks are evaluation tasks with a known answer; they are scored when you submit them."),
    attempts,
  ].filter(Boolean));
  if (!embedded) document.title = `${own ? "Your quality" : who} · Assay`;
  for (const chart of charts) chart.mount();

  function destroy() {
    for (const chart of charts) chart.destroy();
  }
  let handle = { destroy };
  return { destroy: () => handle.destroy() };
}
