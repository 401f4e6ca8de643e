"""Team cohorts: leads, invites, members, the aggregate dashboard and team messages."""
