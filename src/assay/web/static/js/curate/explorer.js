// The explorer of one dataset (/datasets/{id}): the query bar, the sidebar's facets and
// slices, and a virtualised grid of the matches — item thumbnails with their shapes, or
// object crops — fetched a page at a time (POST /datasets/{id}/query, by offset) as the
// grid scrolls. The query, view and sort live in the URL, so a view can be shared.
// With embeddings: Find similar (from a thumbnail, the detail or the selection) pins the
// k nearest items in the grid with their scores until "Back to the query"; the Map display
// draws the matches in 2D with a lasso that selects; Autotag… runs the refinement loop;
// a text search (where the space's embedder has a text tower) pins the items most like a
// text; Duplicates… and Uniqueness run their jobs, then query and sort by their fields.
// With object embeddings: Find similar objects (from an object crop) pins the k nearest
// objects, within the object query, with their scores.

import { api, css, el, toast } from "/static/js/api.js";
import { humanMessage } from "/static/js/errors.js";
import { plural, select } from "/static/js/manager/ui.js";
import { ITEM_CELL, OBJECT_CELL, itemCell, objectCell, pendingCell } from "/static/js/curate/cells.js";
import { autotagLoop } from "/static/js/curate/autotag.js";
import { openItem } from "/static/js/curate/detail.js";
import { embeddingMap } from "/static/js/curate/embedmap.js";
import { MAX_COLOURED, SIMILAR_K, findSimilar, pointColours, spacePicker } from "/static/js/curate/embeddings.js";
import { fieldPath, knownFields, metadataPaths, renderFacets } from "/static/js/curate/facets.js";
import { virtualGrid } from "/static/js/curate/grid.js";
import { andQuery, queryBar } from "/static/js/curate/querybar.js";
import { colorOf } from "/static/js/curate/shapes.js";
import { slicesPanel } from "/static/js/curate/slices.js";
import { MEASURE_FIELDS, measureTools, textSearch } from "/static/js/curate/measures.js";
import { datasetTabs } from "/static/js/curate/tabs.js";

const MIN_PAGE = 100;
const MAX_PAGE = 1000;
const OBJECT_SORTS = [["area", "Area"], ["confidence", "Confidence"], ["width", "Width"],
  ["height", "Height"], ["aspect", "Aspect"], ["label", "Label"]];

export async function renderExplorer(view, { id }) {
  css("/static/css/manager.css");
  css("/static/css/curate.css");
  document.getElementById("view").className = "page page-curate";
  const base = `/datasets/${encodeURIComponent(id)}`;
  const dataset = await api(base);
  document.title = `${dataset.name} · Datasets · Assay`;

  const params = new URLSearchParams(location.search);
  const state = {
    view: params.get("view") === "objects" ? "objects" : "items",
    query: params.get("q") || "",
    sort: params.get("sort") || "",
    models: new Set(),
    rows: [],
    count: 0,
    cursor: null,
    done: true,
    loading: false,
    generation: 0,
    facets: null,
    allModels: [],
    seenMetadata: new Set(),
    selected: new Set(),
    lastClicked: -1,
    pinned: null, // {title, refs, scores: Map | null, objects?, items?}: items (or objects) shown instead of the query's
    display: params.get("display") === "map" ? "map" : "grid",
    autotags: new Set(),
    measures: new Set(), // computed measure fields seen in the answers (uniqueness, duplicates.*)
  };

  const bar = queryBar({
    onSubmit: (text) => { state.query = text; state.pinned = null; run(); },
    fields: () => [...new Set([...knownFields(state.facets, state.seenMetadata), ...[...state.autotags].map((name) => `autotag.${name}`),
      ...state.measures])],
  });
  bar.set(state.query);
  const status = el("p", { class: "explore-count", role: "status", "aria-live": "polite" });
  const viewButtons = ["items", "objects"].map((name) => el("button", {
    type: "button", class: "secondary small", "data-view": name,
    onclick: () => { if (state.view !== name || state.pinned) { state.view = name; state.sort = ""; state.pinned = null; run(); } },
  }, name === "items" ? "Items" : "Objects"));
  const displayButtons = ["grid", "map"].map((name) => el("button", {
    type: "button", class: "secondary small", "data-display": name,
    onclick: () => { state.display = name; syncUrl(); showDisplay(); },
  }, name === "grid" ? "Grid" : "Map"));
  // Object find-similar reads the first object space (vectors per annotation / prediction).
  const objectSpace = Object.keys(dataset.object_embedding_spaces || {}).sort()[0] || "";
  const spaces = spacePicker(base, dataset, {
    onChange: () => {
      showDisplay();
      grid?.refresh({ all: true });
      measures.render();
      api(base).then((fresh) => texts.render(fresh), () => {});
    },
  });
  const measures = measureTools(base, {
    space: () => spaces.space,
    onDone: ({ query, sort }) => {
      Object.assign(state, { query, sort, pinned: null, view: "items" });
      bar.set(query);
      run();
    },
  });
  const texts = textSearch(base, {
    space: () => spaces.space,
    query: () => state.query,
    onFound: (text, matches) => pin(`matching “${text}”`, matches.map((m) => m.reference_id),
      new Map(matches.map((m) => [m.reference_id, m.score]))),
    onQueryError: (error) => bar.error(error),
  });
  texts.render(dataset);
  const pinnedBar = el("div", { class: "pinned-bar", hidden: true });
  const mapBox = el("div", { class: "map-panel", hidden: true });
  const colourBy = el("select", { name: "colour", "aria-label": "Colour by" });
  colourBy.addEventListener("change", () => colourMap());
  const map = embeddingMap({
    controls: el("label", { class: "inline" }, el("span", { class: "muted small" }, "Colour by"), colourBy),
    onLasso: (points) => {
      state.selected = new Set(points.map((point) => point.reference_id));
      map.select(state.selected);
      renderSelection();
      grid?.refresh({ all: true });
    },
    onOpen: (point) => openItem(id, { item_id: point.item_id, reference_id: point.reference_id }, { models: state.models, actions: itemActions() }),
  });
  const sortField = el("select", { name: "sort", "aria-label": "Sort by" });
  const sortDirection = select("direction", [["-", "Descending"], ["", "Ascending"]], "-", { "aria-label": "Sort direction" });
  const models = el("div", { class: "model-toggles", role: "group", "aria-label": "Predictions shown" });
  const selectionBar = el("div", { class: "selection-bar", hidden: true });
  const facetsBox = el("div", { class: "facets-box" }, el("p", { class: "muted small" }, "Loading facets…"));
  const slices = slicesPanel(id, {
    query: () => state.query,
    selection: () => [...state.selected],
    onFilter: (slice) => {
      if (slice.kind === "dynamic") {
        if (typeof slice.query !== "string") {
          toast("This slice's query was saved as a plan from the SDK; it cannot be shown as text.", "error");
          return;
        }
        state.query = slice.query;
      } else {
        state.query = `${JSON.stringify(slice.id)} IN slices`;
      }
      state.pinned = null;
      bar.set(state.query);
      run();
    },
  });
  let grid = null;
  const gridBox = el("div", { class: "grid-box" });

  const addCondition = (condition) => {
    state.query = andQuery(state.query, condition);
    state.pinned = null;
    bar.set(state.query);
    run();
  };

  sortField.addEventListener("change", () => { state.sort = sortField.value ? `${sortDirection.value}${sortField.value}` : ""; run(); });
  sortDirection.addEventListener("change", () => { if (sortField.value) { state.sort = `${sortDirection.value}${sortField.value}`; run(); } });

  view.replaceChildren(
    el("nav", { class: "breadcrumb", "aria-label": "Breadcrumb" }, el("a", { href: "/datasets" }, "Datasets"), " / ", dataset.name),
    el("div", { class: "page-header explore-header" },
      el("div", {}, el("h1", {}, dataset.name),
        el("p", { class: "muted" }, `${plural(dataset.item_count, "item")} · ${plural(dataset.annotation_count, "annotation")} · ${plural(dataset.prediction_count, "prediction")}`)),
      el("div", { class: "segmented", role: "group", "aria-label": "View" }, viewButtons)),
    datasetTabs(id, "explore"),
    bar.element,
    texts.element,
    el("div", { class: "explorer" },
      el("aside", { class: "explore-side card", "aria-label": "Facets and slices" }, facetsBox, slices.element),
      el("section", { class: "explore-main", "aria-label": "Results" },
        el("div", { class: "toolbar explore-toolbar" }, status,
          el("label", { class: "inline" }, el("span", { class: "muted small" }, "Sort"), sortField, sortDirection),
          models, spaces.element, measures.element,
          el("div", { class: "segmented", role: "group", "aria-label": "Display" }, displayButtons)),
        pinnedBar, selectionBar, gridBox, mapBox)));
  slices.reload();

  function syncUrl() {
    const next = new URLSearchParams();
    if (state.query) next.set("q", state.query);
    if (state.view === "objects") next.set("view", "objects");
    if (state.sort) next.set("sort", state.sort);
    if (state.display === "map") next.set("display", "map");
    const search = next.toString();
    history.replaceState(null, "", `${location.pathname}${search ? `?${search}` : ""}`);
  }

  function sortOptions() {
    const current = state.sort.replace(/^-/, "");
    const fields = state.view === "objects" ? OBJECT_SORTS : [
      ["annotations.count", "Annotations"], ["predictions.count", "Predictions"], ["reference_id", "Reference id"],
      ...Object.keys(state.facets?.histograms || {}).sort().map((column) => [fieldPath(column), column]),
      ...[...state.measures].filter((name) => !(name in (state.facets?.histograms || {}))).map((name) => [name, name]),
    ];
    sortField.replaceChildren(el("option", { value: "" }, "Default order"),
      ...fields.map(([value, text]) => el("option", { value, selected: value === current }, text)));
    if (current && !fields.some(([value]) => value === current)) {
      sortField.append(el("option", { value: current, selected: true }, current));
    }
    sortDirection.value = state.sort.startsWith("-") || !state.sort ? "-" : "";
    sortDirection.disabled = !state.sort;
  }

  // Predictions drawn over thumbnails, per model (the object view lists them as objects).
  function modelToggles() {
    const names = state.view === "items" ? state.allModels : [];
    models.replaceChildren(...(names.length ? [el("span", { class: "muted small" }, "Predictions:")] : []),
      ...names.map((name) => {
        const box = el("input", { type: "checkbox", checked: state.models.has(name), "aria-label": `Show predictions of ${name}` });
        box.addEventListener("change", () => {
          if (box.checked) state.models.add(name);
          else state.models.delete(name);
          run({ keepScroll: true });
        });
        return el("label", { class: "check small" }, box, name);
      }));
  }

  function renderSelection() {
    const n = state.selected.size;
    selectionBar.hidden = n === 0 || state.view !== "items";
    const chosen = () => [...state.selected];
    selectionBar.replaceChildren(el("strong", {}, `${plural(n, "item")} selected`),
      state.display === "map" || state.pinned?.title !== "selection"
        ? el("button", { type: "button", class: "small secondary", onclick: () => pin("selection", chosen(), null) }, "Show in grid") : null,
      el("button", { type: "button", class: "small secondary", onclick: () => slices.createSlice() }, "New slice from selection"),
      spaces.space ? el("button", { type: "button", class: "small secondary", onclick: () => similarFrom(chosen()) }, "Find similar") : null,
      spaces.space ? el("button", { type: "button", class: "small secondary", onclick: () => autotag(chosen()) }, "Autotag…") : null,
      el("button", { type: "button", class: "small ghost", onclick: () => { state.selected.clear(); map.select(state.selected); renderSelection(); grid?.refresh({ all: true }); } }, "Clear selection"));
  }

  function onSelect(index, event) {
    const row = state.rows[index];
    const on = event.target.checked;
    const from = event.shiftKey && state.lastClicked >= 0 ? Math.min(state.lastClicked, index) : index;
    const to = event.shiftKey && state.lastClicked >= 0 ? Math.max(state.lastClicked, index) : index;
    for (let i = from; i <= to; i += 1) {
      const ref = state.rows[i]?.reference_id;
      if (!ref) continue;
      if (on) state.selected.add(ref);
      else state.selected.delete(ref);
    }
    state.lastClicked = index;
    if (row) renderSelection();
    grid.refresh({ all: from !== to });
    if (from === to) {
      const cell = grid.element.querySelector(`[data-index="${index}"]`);
      cell?.classList.toggle("selected", on);
    }
  }

  function renderCell(index) {
    const row = state.rows[index];
    if (!row) return pendingCell();
    if (state.view === "objects") {
      return objectCell(row, {
        onOpen: (object) => openItem(id, { item_id: object.item_id, reference_id: object.reference_id }, { models: state.models }),
        onSimilar: objectSpace ? (object) => similarObjectsFrom(object) : null,
        score: state.pinned?.objects ? state.pinned.scores?.get(row.object_id) ?? null : null,
      });
    }
    return itemCell(row, {
      models: state.models,
      selected: state.selected.has(row.reference_id),
      onOpen: (item) => openItem(id, item, { models: state.models, actions: itemActions() }),
      onSelect: (event) => onSelect(index, event),
      ...cellScore(row),
      onSimilar: spaces.space ? (item) => similarFrom([item.reference_id]) : null,
    });
  }

  // The caption's number: a pinned search's similarity, or the measure the grid is sorted by.
  function cellScore(row) {
    if (state.pinned) return { score: state.pinned.scores?.get(row.reference_id) ?? null };
    const sorted = state.sort.replace(/^-/, "");
    const value = MEASURE_FIELDS.includes(sorted) ? row.measures?.[sorted] : null;
    return { score: value ?? null, scoreTitle: sorted, scoreDigits: sorted.startsWith("duplicates.") ? 0 : 3 };
  }

  function itemActions() {
    if (!spaces.space) return [];
    return [{ label: "Find similar", run: (item) => similarFrom([item.reference_id]) },
      { label: "Autotag…", run: (item) => autotag([item.reference_id]) }];
  }

  // Show `refs` (in that order, with their `scores`) instead of the query's matches.
  function pin(title, refs, scores) {
    state.pinned = { title, refs, scores };
    state.view = "items";
    state.display = "grid";
    run();
  }

  async function similarFrom(refs) {
    let matches;
    try {
      matches = await findSimilar(base, { space: spaces.space, referenceIds: refs, query: state.query });
    } catch (error) {
      if (error.field === "query") bar.error(error);
      else toast(`Could not find similar items: ${humanMessage(error)}`, "error");
      return;
    }
    const what = refs.length === 1 ? refs[0] : plural(refs.length, "item");
    pin(`similar to ${what}`, matches.map((m) => m.reference_id), new Map(matches.map((m) => [m.reference_id, m.score])));
  }

  // The objects most like one object (in the first object space), within the object query.
  async function similarObjectsFrom(object) {
    let matches;
    try {
      const answer = await api(`${base}/similar-objects`, {
        method: "POST",
        body: { space: objectSpace, objects: [{ object_id: object.object_id }], k: SIMILAR_K, query: state.query || null },
      });
      matches = answer.objects;
    } catch (error) {
      if (error.field === "query") bar.error(error);
      else toast(`Could not find similar objects: ${humanMessage(error)}`, "error");
      return;
    }
    state.pinned = {
      title: `similar to ${object.label} in ${object.reference_id}`,
      refs: matches.map((m) => m.object_id),
      items: [...new Set(matches.map((m) => m.reference_id))],
      scores: new Map(matches.map((m) => [m.object_id, m.score])),
      objects: true,
    };
    state.display = "grid";
    run();
  }

  async function autotag(seeds) {
    const done = await autotagLoop(base, { spaces: spaces.spaces, space: spaces.space, seeds });
    if (!done) return;
    state.autotags.add(done.autotag.name);
    toast(`autotag.${done.autotag.name} stored: ${plural(done.scored, "item")} scored`);
    run({ keepScroll: true });
  }

  // The map (of the query's matches, or the pinned items) or the grid.
  function showDisplay() {
    const onMap = state.display === "map" && state.view === "items";
    displayButtons.forEach((button) => {
      button.setAttribute("aria-pressed", String(button.dataset.display === (onMap ? "map" : "grid")));
      button.disabled = button.dataset.display === "map" && state.view !== "items";
    });
    gridBox.hidden = onMap;
    mapBox.hidden = !onMap;
    renderSelection();
    if (onMap) loadMap();
  }

  async function loadMap() {
    if (!spaces.space) {
      mapBox.replaceChildren(el("div", { class: "map-empty card" },
        el("p", {}, "This dataset has no embeddings yet: compute them to see the map, find similar items and autotag."),
        el("button", { type: "button", class: "primary", onclick: () => spaces.compute() }, "Compute embeddings")));
      return;
    }
    const generation = state.generation;
    mapBox.replaceChildren(map.element);
    map.element.setAttribute("aria-busy", "true");
    try {
      const answer = await api(`${base}/map`, {
        method: "POST", body: { space: spaces.space, query: currentQuery() || null, method: "pca" },
      });
      if (generation !== state.generation) return;
      map.set(answer.points);
      map.select(state.selected);
      colourOptions();
      await colourMap();
    } catch (error) {
      if (generation === state.generation) toast(`Could not draw the map: ${humanMessage(error)}`, "error");
    } finally {
      map.element.removeAttribute("aria-busy");
    }
  }

  function colourOptions() {
    const current = colourBy.value;
    const paths = [...state.seenMetadata].sort();
    colourBy.replaceChildren(el("option", { value: "" }, "Nothing"), el("option", { value: "tags" }, "Tag"),
      ...paths.map((path) => el("option", { value: path }, path.slice("metadata.".length))));
    colourBy.value = [...colourBy.options].some((o) => o.value === current) ? current : "";
  }

  // Colour the map's points by the chosen field (up to MAX_COLOURED points).
  async function colourMap() {
    const path = colourBy.value;
    if (!path || state.count > MAX_COLOURED) {
      map.colour(null, path ? [[`Too many points to colour (over ${MAX_COLOURED.toLocaleString()})`, "#868e96"]] : []);
      return;
    }
    const generation = state.generation;
    try {
      const { colours, legend } = await pointColours(base, { query: currentQuery(), path });
      if (generation === state.generation && colourBy.value === path) map.colour(colours, legend);
    } catch (error) {
      toast(`Could not colour the map: ${humanMessage(error)}`, "error");
    }
  }

  const pinnedQuery = (refs) => `reference_id IN ${JSON.stringify(refs)}`;
  // Pinned objects are read as their items' objects (the query has no object ids), then kept.
  const pinnedItems = () => (state.pinned.objects ? state.pinned.items : state.pinned.refs);
  const currentQuery = () => (state.pinned ? pinnedQuery(pinnedItems()) : state.query);

  function renderPinned() {
    pinnedBar.hidden = !state.pinned;
    pinnedBar.replaceChildren(...(state.pinned ? [
      el("span", {}, `Showing the ${plural(state.pinned.refs.length, state.pinned.objects ? "object" : "item")} ${state.pinned.title === "selection" ? "selected" : state.pinned.title}`),
      el("button", { type: "button", class: "small secondary", onclick: () => { state.pinned = null; run(); } }, "Back to the query"),
    ] : []));
  }

  // The pinned items (or objects), a page of up to MAX_PAGE at a time, in their order.
  async function runPinned(generation) {
    const { refs, objects } = state.pinned;
    const key = objects ? "object_id" : "reference_id";
    const lookup = pinnedItems();
    const step = objects ? MIN_PAGE : MAX_PAGE;
    let rows = [];
    try {
      for (let start = 0; start < lookup.length; start += step) {
        const chunk = lookup.slice(start, start + step);
        for (let offset = 0; ; offset += MAX_PAGE) {
          const answer = await api(`${base}/query`, {
            method: "POST",
            body: body({ query: pinnedQuery(chunk), order_by: null, limit: objects ? MAX_PAGE : chunk.length, offset }),
          });
          rows.push(...answer.items);
          if (!objects || answer.items.length < MAX_PAGE) break;
        }
      }
    } catch (error) {
      if (generation === state.generation) toast(humanMessage(error), "error");
      return;
    }
    if (generation !== state.generation) return;
    const order = new Map(refs.map((ref, i) => [ref, i]));
    rows = rows.filter((row) => order.has(row[key]));
    rows.sort((a, b) => order.get(a[key]) - order.get(b[key]));
    Object.assign(state, { rows, count: rows.length, cursor: null, done: true, loading: false, lastClicked: -1 });
    remember(rows);
    status.textContent = `${plural(rows.length, objects ? "object" : "item")} shown`;
    renderPinned();
    modelToggles();
    if (!grid || grid.kind !== state.view) {
      makeGrid();
      grid.kind = state.view;
    }
    grid.reset(rows.length);
    gridBox.querySelector(".grid-empty")?.remove();
    showDisplay();
  }

  function makeGrid() {
    grid?.destroy();
    const size = state.view === "objects" ? OBJECT_CELL : ITEM_CELL;
    grid = virtualGrid({
      cellWidth: size.width, cellHeight: size.height, gap: 10,
      label: state.view === "objects" ? "Objects" : "Items",
      render: renderCell, need: (first, last) => need(first, last),
    });
    gridBox.replaceChildren(grid.element);
  }

  function body(extra) {
    return {
      query: state.query || null,
      view: state.view,
      order_by: state.sort || null,
      predictions: state.view === "items" && state.models.size > 0,
      ...extra,
    };
  }

  function remember(rows) {
    for (const row of rows) {
      for (const name of Object.keys(row.measures || {})) state.measures.add(name);
      if (row.metadata) metadataPaths(row.metadata, "metadata", state.seenMetadata);
      for (const shape of row.annotations || []) colorOf(shape.label);
    }
  }

  // A new query, view, sort or model choice: the first page with the facets.
  async function run({ keepScroll = false } = {}) {
    const generation = ++state.generation;
    syncUrl();
    viewButtons.forEach((button) => button.setAttribute("aria-pressed", String(button.dataset.view === state.view)));
    if (state.pinned) {
      status.textContent = "Searching…";
      await runPinned(generation);
      return;
    }
    renderPinned();
    const before = status.textContent;
    status.textContent = "Searching…";
    let answer;
    try {
      answer = await api(`${base}/query`, { method: "POST", body: body({ limit: MIN_PAGE, facets: true }) });
    } catch (error) {
      if (generation !== state.generation) return;
      if (error.status === 401) throw error;
      status.textContent = before;
      if (error.field === "query") bar.error(error);
      else toast(humanMessage(error, { subject: error.field === "order_by" ? "Sort" : undefined }), "error");
      return;
    }
    if (generation !== state.generation) return;
    bar.clear();
    const scrolled = keepScroll && grid ? grid.element.scrollTop : 0;
    Object.assign(state, {
      rows: answer.items, count: answer.count, cursor: answer.next_cursor, done: !answer.next_cursor,
      loading: false, facets: answer.facets,
    });
    if (!keepScroll) state.lastClicked = -1;
    for (const source of Object.keys(answer.facets?.labels || {})) {
      if (source !== "gt" && !state.allModels.includes(source)) state.allModels.push(source);
    }
    for (const model of Object.keys(answer.facets?.confidence || {})) {
      if (!state.allModels.includes(model)) state.allModels.push(model);
    }
    remember(answer.items);
    const one = answer.count === 1;
    const noun = state.view === "objects" ? (one ? "object" : "objects") : (one ? "item" : "items");
    status.textContent = `${answer.count.toLocaleString()} ${noun}${state.query ? (one ? " matches" : " match") : ""}`;
    facetsBox.replaceChildren(renderFacets(answer.facets, { onFilter: addCondition, view: state.view }));
    sortOptions();
    modelToggles();
    renderSelection();
    if (!grid || !keepScroll || grid.kind !== state.view) {
      makeGrid();
      grid.kind = state.view;
    }
    grid.reset(answer.count);
    if (scrolled) grid.element.scrollTop = scrolled;
    gridBox.querySelector(".grid-empty")?.remove();
    if (!answer.count) {
      gridBox.append(el("p", { class: "grid-empty muted" }, state.query
        ? `Nothing matches this query${state.view === "objects" ? " in the object view" : ""}.`
        : "No items yet: append them with the API or the Python SDK."));
    }
    showDisplay();
  }

  // The grid shows indexes first..last: fetch the first stretch of them not loaded yet, by
  // offset — a jump into the middle of a million items reads the page there, not every page
  // before it. Rows are kept by index (a sparse array); the next layout asks for what is
  // still missing.
  async function need(first, last) {
    if (state.loading || state.done) return;
    const end = Math.min(last, state.count - 1);
    let offset = -1;
    for (let i = Math.max(0, first); i <= end; i += 1) {
      if (!state.rows[i]) { offset = i; break; }
    }
    if (offset < 0) return;
    const generation = state.generation;
    state.loading = true;
    const limit = Math.min(MAX_PAGE, Math.max(MIN_PAGE, end - offset + 1));
    try {
      const answer = await api(`${base}/query`, { method: "POST", body: body({ limit, offset }) });
      if (generation !== state.generation) return;
      answer.items.forEach((item, k) => { state.rows[offset + k] = item; });
      remember(answer.items);
    } catch (error) {
      if (generation !== state.generation) return;
      state.done = true;
      toast(`Could not load more: ${humanMessage(error)}`, "error");
    } finally {
      if (generation === state.generation) state.loading = false;
    }
    if (generation === state.generation) grid.refresh();
  }

  api(`${base}/autotags`).then((page) => {
    for (const tag of page.items) if (tag.committed_at) state.autotags.add(tag.name);
  }, () => {});
  await run();
  return { destroy: () => { grid?.destroy(); map.destroy(); } };
}
