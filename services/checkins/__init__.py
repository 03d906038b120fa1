"""Follow-up symptom check-ins (issue #7): questionnaires, answers, scoring, alerts.

Only the data model and the pure scoring exist so far; nothing here is routed, scheduled
or sent yet (docs/architecture.md, "Check-ins (in progress)").
"""
