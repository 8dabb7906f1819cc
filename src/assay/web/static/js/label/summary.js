// A short, readable account of a response: what it contains, one line per kind of annotation.

// One annotation in words: "car", "box car", "“some text”", "choice: A".
export function describeAnnotation(ann) {
  if (ann.type === "text") return `“${String(ann.text ?? "").slice(0, 120)}”`;
  if (ann.type === "ranking") return `ranking ${JSON.stringify(ann.order)}`;
  if (ann.type === "comparison") return `choice: ${ann.choice}`;
  if (ann.type === "verdict") return `${ann.criterion}: ${ann.met ? "met" : "not met"}`;
  if (ann.type === "rating") return `${ann.criterion}: ${ann.value}`;
  const what = ann.label ? `${ann.label}` : ann.type;
  return ann.type === "category" ? what : `${ann.type} ${what}`;
}

export function summarize(response) {
  const annotations = response?.annotations || [];
  if (!annotations.length) return ["(no annotations)"];
  const counts = new Map();
  for (const ann of annotations) {
    const what = describeAnnotation(ann);
    counts.set(what, (counts.get(what) || 0) + 1);
  }
  return [...counts].map(([what, n]) => (n > 1 ? `${n} × ${what}` : what));
}
