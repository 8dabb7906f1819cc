// Relations drawn over the text of the spans workspace: one curved arrow per link, from its
// "from" span to its "to" span, arching above the line and named by the link's label. An SVG
// layer over the text (no pointer events: the text stays selectable), redrawn when the spans
// change or the text reflows.

const NS = "http://www.w3.org/2000/svg";
let layers = 0; // marker ids must be unique in the document

function svgEl(tag, attrs = {}, text = null) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text; // label names stay text
  return node;
}

export class RelationArrows {
  // wrap: the positioned box around textBox; textBox: the text with its .seg[data-spans].
  constructor(wrap, textBox) {
    this.wrap = wrap;
    this.textBox = textBox;
    this.links = [];
    this.markerId = `relation-arrowhead-${++layers}`;
    this.svg = svgEl("svg", { class: "relation-arrows", "aria-hidden": "true" });
    wrap.append(this.svg);
    this.observer = new ResizeObserver(() => this.draw());
    this.observer.observe(textBox, { box: "border-box" });
  }

  update(links) {
    this.links = links;
    this.draw();
  }

  // The middle of the span's first line, at the top of the line box, in the wrap's coordinates.
  anchor(id, origin) {
    const rects = [...this.textBox.querySelectorAll(`.seg[data-spans~="${CSS.escape(id)}"]`)]
      .flatMap((seg) => [...seg.getClientRects()]);
    if (!rects.length) return null;
    const line = rects.filter((r) => Math.abs(r.top - rects[0].top) < 2);
    const left = Math.min(...line.map((r) => r.left));
    const right = Math.max(...line.map((r) => r.right));
    return { x: (left + right) / 2 - origin.left, y: rects[0].top - origin.top };
  }

  draw() {
    const origin = this.wrap.getBoundingClientRect();
    this.svg.setAttribute("width", String(this.wrap.scrollWidth));
    this.svg.setAttribute("height", String(this.wrap.scrollHeight));
    const marker = svgEl("marker", {
      id: this.markerId, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7,
      orient: "auto-start-reverse",
    });
    marker.append(svgEl("path", { d: "M0,0 L10,5 L0,10 z", class: "relation-head" }));
    const defs = svgEl("defs");
    defs.append(marker);
    const parts = [defs];
    this.links.forEach((link, i) => {
      const a = this.anchor(link.from, origin), b = this.anchor(link.to, origin);
      if (!a || !b) return;
      // Arch above the higher end, more for far-apart spans; links between the same spans
      // are stacked so they stay apart.
      const lift = 10 + Math.min(28, Math.abs(b.x - a.x) / 8) + 6 * (i % 3);
      const top = Math.max(2, Math.min(a.y, b.y) - lift);
      const mx = (a.x + b.x) / 2;
      const d = `M ${a.x.toFixed(1)} ${a.y.toFixed(1)} Q ${mx.toFixed(1)} ${top.toFixed(1)} ${b.x.toFixed(1)} ${b.y.toFixed(1)}`;
      parts.push(svgEl("path", {
        d, class: "relation-arrow", "data-from": link.from, "data-to": link.to, "data-label": link.label,
        "marker-end": `url(#${this.markerId})`,
      }));
      // The curve's apex is halfway between the ends' height and the control point's.
      const apexY = (Math.min(a.y, b.y) + top) / 2;
      parts.push(svgEl("text", { x: mx.toFixed(1), y: (apexY - 2).toFixed(1), class: "relation-name" }, link.label));
    });
    this.svg.replaceChildren(...parts);
  }

  destroy() {
    this.observer.disconnect();
    this.svg.remove();
  }
}
