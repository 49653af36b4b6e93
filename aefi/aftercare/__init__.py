"""After the vaccinee leaves: the vaccination certificate, check-ins by the vaccinee or
guardian through a personal link, red flags that reach the site and the hospital at once,
and self-reports that a site physician confirms into reports (issue 17)."""
