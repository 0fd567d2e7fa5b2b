-- Illness alerts from nightly resting heart rate (stream_processors/nightly.py). A night is dated by the local
-- date of its morning (the night ends at 07:00 local).

-- Each night's detector inputs, computed from the 1-minute rollups: the NightSignal resting HR (and the lab's
-- integer version of it), the minutes it is the mean of, and the 24 hourly resting medians CuSum reads.
CREATE TABLE nightly_values (
    participant_id text NOT NULL,
    night date NOT NULL,
    resting_hr double precision NOT NULL,
    resting_hr_lab integer NOT NULL,
    minutes integer NOT NULL,
    hourly double precision[] NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (participant_id, night)
);

-- Each detector's verdict per night: the value it judged, the baseline it judged it against, the alert level.
CREATE TABLE night_outcomes (
    participant_id text NOT NULL,
    detector text NOT NULL,
    night date NOT NULL,
    value double precision,
    baseline double precision,
    level text CHECK (level IN ('yellow', 'red')),
    filled boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (participant_id, detector, night)
);

-- Alerts: one row per participant × detector × night, its current level and state; every change is kept in
-- alert_changes. A withdrawn alert keeps the level it had.
CREATE TABLE alerts (
    participant_id text NOT NULL,
    detector text NOT NULL,
    night date NOT NULL,
    level text NOT NULL CHECK (level IN ('yellow', 'red')),
    value double precision,
    baseline double precision,
    state text NOT NULL CHECK (state IN ('raised', 'upgraded', 'downgraded', 'withdrawn')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (participant_id, detector, night)
);
CREATE INDEX alerts_by_night ON alerts (night, participant_id, detector);

CREATE TABLE alert_changes (
    participant_id text NOT NULL,
    detector text NOT NULL,
    night date NOT NULL,
    level text NOT NULL,
    state text NOT NULL,
    value double precision,
    baseline double precision,
    changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_changes_by_participant ON alert_changes (participant_id, night);
