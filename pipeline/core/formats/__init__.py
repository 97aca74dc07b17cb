"""Clinical formats (HL7 v2, FHIR R4) through the policy: parse, protect, render and re-check."""
