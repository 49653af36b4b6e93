"""The search box in the header: one query across reports, cases, referrals, persons, lots."""
