"""The evaluate pillar: private evaluation sets, model providers, runs, scorers, rubric
autoraters (judges), their calibration and reward-hacking probes, and leaderboards.

Every call to a model goes through `evaluation.chat.ChatModel` (see that module), so runs,
judges, the grading service, the arena and the build pillar share one provider layer.
"""
