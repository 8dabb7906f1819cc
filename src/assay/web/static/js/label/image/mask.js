// Brush masks: a bitmap of the image's size, stored column-major like COCO RLE (index =
// x * height + y) so encoding is one sequential pass. The response carries uncompressed
// COCO RLE: {size: [height, width], counts: [zeros, ones, zeros, ...]}.
//
// A committed mask is never changed again: a brush stroke paints into a copy (copyMask),
// so undo history can keep the old one. Caches (RLE, bounds, canvas) key on the mask object.

const rleCache = new WeakMap();
const boundsCache = new WeakMap();
const canvasCache = new WeakMap();

export function createMask(width, height) {
  return { width, height, data: new Uint8Array(width * height), version: 0 };
}

export function copyMask(mask) {
  const copy = { width: mask.width, height: mask.height, data: mask.data.slice(), version: 0 };
  const cached = canvasCache.get(mask);
  if (cached) {
    // Copy the painted canvas too, so the first frame of a stroke needs no full repaint.
    const canvas = makeCanvas(mask.width, mask.height);
    canvas.getContext("2d").drawImage(cached.canvas, 0, 0);
    canvasCache.set(copy, { canvas, color: cached.color, version: 0 });
  }
  return copy;
}

export function maskFromRle(rle) {
  const [height, width] = rle.size;
  const mask = createMask(width, height);
  let index = 0;
  let value = 0;
  for (const run of rle.counts) {
    if (value) mask.data.fill(1, index, Math.min(index + run, mask.data.length));
    index += run;
    value ^= 1;
  }
  return mask;
}

export function maskToRle(mask) {
  const cached = rleCache.get(mask);
  if (cached && cached.version === mask.version) return cached.rle;
  const counts = [];
  const data = mask.data;
  let current = 0;
  let run = 0;
  for (let i = 0; i < data.length; i++) {
    const value = data[i] ? 1 : 0;
    if (value !== current) {
      counts.push(run);
      run = 0;
      current = value;
    }
    run++;
  }
  counts.push(run);
  const rle = { size: [mask.height, mask.width], counts };
  rleCache.set(mask, { version: mask.version, rle });
  return rle;
}

export function maskBounds(mask) {
  const cached = boundsCache.get(mask);
  if (cached && cached.version === mask.version) return cached.bounds;
  const { width, height, data } = mask;
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (let x = 0; x < width; x++) {
    const column = x * height;
    for (let y = 0; y < height; y++) {
      if (!data[column + y]) continue;
      if (x < x0) x0 = x;
      if (x + 1 > x1) x1 = x + 1;
      if (y < y0) y0 = y;
      if (y + 1 > y1) y1 = y + 1;
    }
  }
  const bounds = x0 === Infinity ? { x0: 0, y0: 0, x1: 0, y1: 0, empty: true } : { x0, y0, x1, y1 };
  boundsCache.set(mask, { version: mask.version, bounds });
  return bounds;
}

export function maskIsEmpty(mask) {
  return Boolean(maskBounds(mask).empty);
}

export function maskHit(mask, p) {
  const x = Math.floor(p.x), y = Math.floor(p.y);
  if (x < 0 || y < 0 || x >= mask.width || y >= mask.height) return false;
  return mask.data[x * mask.height + y] === 1;
}

// Paint (value 1) or erase (value 0) a stroke of discs from a to b; returns the changed
// rectangle in pixels, or null. Mutates `mask`: call it on a copy (see copyMask).
export function paintStroke(mask, a, b, radius, value) {
  const { width, height, data } = mask;
  const r = Math.max(radius, 0.5);
  const length = Math.hypot(b.x - a.x, b.y - a.y);
  const steps = Math.max(1, Math.ceil(length / Math.max(r / 2, 0.5)));
  const rect = {
    x0: Math.max(0, Math.floor(Math.min(a.x, b.x) - r)),
    y0: Math.max(0, Math.floor(Math.min(a.y, b.y) - r)),
    x1: Math.min(width, Math.ceil(Math.max(a.x, b.x) + r)),
    y1: Math.min(height, Math.ceil(Math.max(a.y, b.y) + r)),
  };
  if (rect.x0 >= rect.x1 || rect.y0 >= rect.y1) return null;
  const r2 = r * r;
  for (let s = 0; s <= steps; s++) {
    const cx = a.x + ((b.x - a.x) * s) / steps;
    const cy = a.y + ((b.y - a.y) * s) / steps;
    const xs = Math.max(0, Math.floor(cx - r)), xe = Math.min(width - 1, Math.ceil(cx + r));
    const ys = Math.max(0, Math.floor(cy - r)), ye = Math.min(height - 1, Math.ceil(cy + r));
    for (let x = xs; x <= xe; x++) {
      const dx = x + 0.5 - cx;
      const column = x * height;
      for (let y = ys; y <= ye; y++) {
        const dy = y + 0.5 - cy;
        if (dx * dx + dy * dy <= r2) data[column + y] = value;
      }
    }
  }
  mask.version++;
  return rect;
}

function makeCanvas(width, height) {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  return canvas;
}

function rgb(hex) {
  let h = hex.replace("#", "");
  if (h.length === 3) h = h.split("").map((c) => c + c).join("");
  const n = parseInt(h, 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function paintRect(ctx, mask, rect, color) {
  const w = rect.x1 - rect.x0, h = rect.y1 - rect.y0;
  if (w <= 0 || h <= 0) return;
  const image = ctx.createImageData(w, h);
  const [r, g, b] = rgb(color);
  const pixels = image.data;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!mask.data[(x + rect.x0) * mask.height + y + rect.y0]) continue;
      const o = (y * w + x) * 4;
      pixels[o] = r;
      pixels[o + 1] = g;
      pixels[o + 2] = b;
      pixels[o + 3] = 255;
    }
  }
  ctx.putImageData(image, rect.x0, rect.y0);
}

// The mask painted in `color` on a canvas of the image's size (drawn with some alpha).
// `dirty` limits the repaint to a rectangle after a brush stroke.
export function maskCanvas(mask, color, dirty = null) {
  let cached = canvasCache.get(mask);
  if (!cached) {
    cached = { canvas: makeCanvas(mask.width, mask.height), color: null, version: -1 };
    canvasCache.set(mask, cached);
  }
  const ctx = cached.canvas.getContext("2d");
  if (cached.color !== color) {
    ctx.clearRect(0, 0, mask.width, mask.height);
    paintRect(ctx, mask, { x0: 0, y0: 0, x1: mask.width, y1: mask.height }, color);
    cached.color = color;
  } else if (dirty) {
    paintRect(ctx, mask, dirty, color);
  }
  cached.version = mask.version;
  return cached.canvas;
}
