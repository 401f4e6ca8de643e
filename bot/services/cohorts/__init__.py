"""Team cohorts: a team lead enrols their team with an invite link and follows it in aggregate.

One module per use-case group, each with its service class:

* `manage`: the lead creates, lists, changes and archives cohorts and rotates invite links;
  the member list by name (`CohortService`).
* `joining`: anyone with a link previews it, joins under a name and leaves (`JoiningService`).
* `dashboard`: the lead's aggregates and CSV roster, and the member facts everything a lead
  sees is computed from (`DashboardService`).
* `team_messages`: the weekly nudge and the weekly huddle card (`TeamMessageService`).
* `types`: policy constants and plain results, importable without sqlalchemy (views use it).
"""
