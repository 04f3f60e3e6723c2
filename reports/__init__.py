"""Reports read only the result store: leaderboards, figures and the claims table."""
