"""Participants: the cohort view (enrolment, authorisation, last upload, 7-day wear, open gaps, flags)."""
