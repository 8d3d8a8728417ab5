"""Triggers seen from the workflow side: what activation checks and registers
(`activation`), the public endpoint of each active trigger (`endpoints`), and schedule
rows armed on django-q2 (`schedules`). Starting runs from trigger events is the runs
app's (`runs.intake`)."""
