// Video tracks: one object followed over frames as keyframes, with linear interpolation in
// between. In the response (annotations.py) a track is one annotation per frame from its
// first to its last keyframe, sharing `track_id` and label; `keyframe` tells drawn frames
// from interpolated ones. Tracks are immutable values, like image shapes, for undo.

import { newId } from "/static/js/label/common.js";
import { geometryJson } from "/static/js/label/image/geometry.js";

const lerp = (a, b, t) => a + (b - a) * t;

// track = {id, type: "box" | "point", label, attributes, keys: [{frame, shape}] by frame}
export function makeTrack(type, label, frame, geometry) {
  return { id: newId(), type, label, attributes: {}, keys: [{ frame, shape: { type, ...geometry } }] };
}

export function span(track) {
  return { first: track.keys[0].frame, last: track.keys[track.keys.length - 1].frame };
}

export function keyAt(track, frame) {
  return track.keys.find((k) => k.frame === frame) || null;
}

function interpolate(a, b, t) {
  if (a.type === "box") {
    return {
      type: "box",
      x: lerp(a.x, b.x, t), y: lerp(a.y, b.y, t),
      width: lerp(a.width, b.width, t), height: lerp(a.height, b.height, t),
    };
  }
  if (a.type === "point") return { type: "point", x: lerp(a.x, b.x, t), y: lerp(a.y, b.y, t) };
  if (a.type === "polygon" && a.vertices.length === b.vertices.length) {
    return {
      type: "polygon",
      vertices: a.vertices.map((v, i) => ({ x: lerp(v.x, b.vertices[i].x, t), y: lerp(v.y, b.vertices[i].y, t) })),
    };
  }
  return a; // polygons with different vertex counts hold until the next keyframe
}

// The track's shape on `frame` (a keyframe's or interpolated), or null outside its span.
export function shapeAt(track, frame) {
  const keys = track.keys;
  if (!keys.length || frame < keys[0].frame || frame > keys[keys.length - 1].frame) return null;
  let hi = keys.findIndex((k) => k.frame >= frame);
  if (keys[hi].frame === frame) return { ...keys[hi].shape, keyframe: true };
  const a = keys[hi - 1], b = keys[hi];
  return { ...interpolate(a.shape, b.shape, (frame - a.frame) / (b.frame - a.frame)), keyframe: false };
}

// What to show on `frame`: the track's shape, or after its last keyframe that shape held
// (a "ghost" the labeler can adjust to extend the track), or null before its first.
export function displayAt(track, frame) {
  const shape = shapeAt(track, frame);
  if (shape || !track.keys.length || frame < track.keys[0].frame) return shape;
  return { ...track.keys[track.keys.length - 1].shape, keyframe: false, ghost: true };
}

// Set (or replace) the keyframe on `frame`.
export function setKey(track, frame, shape) {
  const clean = { ...shape };
  delete clean.keyframe;
  delete clean.ghost;
  delete clean.id;
  delete clean.label;
  const keys = track.keys.filter((k) => k.frame !== frame);
  keys.push({ frame, shape: clean });
  keys.sort((a, b) => a.frame - b.frame);
  return { ...track, keys };
}

// Remove the keyframe on `frame`; null when it was the track's only one.
export function removeKey(track, frame) {
  const keys = track.keys.filter((k) => k.frame !== frame);
  if (!keys.length) return null;
  return { ...track, keys };
}

// Tracks from response annotations: grouped by track_id; annotations marked keyframe are
// the keys (all of them when none is marked); one without a track_id is a track of its own.
export function tracksFrom(annotations) {
  const groups = new Map();
  for (const ann of annotations || []) {
    if (!["box", "point", "polygon"].includes(ann.type) || typeof ann.frame !== "number") continue;
    const key = ann.track_id ?? `solo:${ann.id || newId()}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(ann);
  }
  const tracks = [];
  for (const [key, anns] of groups) {
    anns.sort((a, b) => a.frame - b.frame);
    const marked = anns.filter((a) => a.keyframe !== false);
    const keys = (marked.length ? marked : anns).map((a) => ({ frame: a.frame, shape: geometryOf(a) }));
    tracks.push({
      id: String(key).startsWith("solo:") ? newId() : String(key),
      type: anns[0].type,
      label: anns[0].label,
      attributes: { ...(anns[0].attributes || {}) },
      keys,
    });
  }
  return tracks;
}

function geometryOf(ann) {
  if (ann.type === "box") return { type: "box", x: ann.x, y: ann.y, width: ann.width, height: ann.height };
  if (ann.type === "point") return { type: "point", x: ann.x, y: ann.y };
  return { type: "polygon", vertices: ann.vertices.map((v) => ({ x: v.x, y: v.y })) };
}

// One annotation per frame of each track's span; `attributes(track)` gives the cleaned values.
export function trackAnnotations(tracks, size, attributes) {
  const out = [];
  for (const track of tracks) {
    const { first, last } = span(track);
    const values = attributes(track);
    for (let frame = first; frame <= last; frame++) {
      const shape = shapeAt(track, frame);
      out.push({
        id: `${track.id}-${frame}`,
        type: track.type,
        label: track.label,
        ...geometryJson(shape, size),
        attributes: values,
        frame,
        track_id: track.id,
        keyframe: shape.keyframe,
      });
    }
  }
  return out;
}
