"""Interchange with other systems: E2B(R3) ICSRs in and out, FHIR R4 resources."""
