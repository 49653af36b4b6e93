"""The dashboard's trend: the epidemic curve and the reporting rate by township."""
