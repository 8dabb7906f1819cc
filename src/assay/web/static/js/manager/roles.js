// Who may do what, as the UI needs it to show only the entry points that work for the caller
// (the server decides: labeling/policies/queue.py::can_work).

const RANK = { labeler: 0, reviewer: 1, manager: 2, admin: 3 };

// Review stages: a global reviewer (or higher), or the reviewer or manager role in the project.
export function canReview(me, project) {
  return (RANK[me?.user?.role] ?? 0) >= RANK.reviewer || ["reviewer", "manager"].includes(project?.your_role);
}

// The pipeline's stages the caller may open (label stages for everyone in the project).
export function workStages(me, project) {
  const stages = project.pipeline?.stages || [{ name: "label", kind: "label" }];
  const reviews = canReview(me, project);
  return stages.map((stage, index) => ({ ...stage, index })).filter((stage) => stage.kind !== "review" || reviews);
}
